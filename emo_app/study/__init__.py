"""Expert rating study (C2A2 supplementary, section 1): raters score faces 1..5, one vote per
rater per item, aggregated into the paper's class-wise Table 1. Storage: ``db``; records:
``model``; operations: ``service``; aggregation: ``results``; points: ``points``."""

from emo_app.study.db import StudyDB, default_db_path
from emo_app.study.model import Item, Rater, Study, Vote
from emo_app.study.points import StudyPoint, generate_study_points
from emo_app.study.results import StudyResults, VoteRecord, aggregate

__all__ = [
    "Item", "Rater", "Study", "StudyDB", "StudyPoint", "StudyResults", "Vote", "VoteRecord",
    "aggregate", "default_db_path", "generate_study_points",
]
