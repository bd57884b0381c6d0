"""The 52 facial blendshapes: names, a validated container and the file formats users need."""

from emo_app.blendshapes.schema import (
    ARKIT_NAMES,
    GROUPS,
    LIVE_LINK_COLUMNS,
    MEDIAPIPE_NAMES,
    Blendshapes,
    mirror_name,
)

__all__ = [
    "ARKIT_NAMES",
    "GROUPS",
    "LIVE_LINK_COLUMNS",
    "MEDIAPIPE_NAMES",
    "Blendshapes",
    "mirror_name",
]
