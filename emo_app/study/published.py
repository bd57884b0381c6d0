"""The supplementary's Table 1 (C2A2, CVPR 2024): mean expert rating 1..5 per class, 2D AV vs
3D C2A2, from eight psychologists. Published figures, shown beside our own study's results."""

from __future__ import annotations

# class (our spelling) -> (2D-AV, 3D C2A2), in the paper's row order.
PUBLISHED_TABLE1: dict[str, tuple[float, float]] = {
    "Happy": (4.28, 3.90),
    "Sad": (3.76, 3.76),
    "Surprised": (4.10, 4.09),
    "Fearful": (3.47, 3.98),
    "Disgusted": (3.57, 4.50),
    "Angry": (3.42, 4.49),
    "Neutral": (3.91, 3.66),
    "Happily sad": (3.12, 4.18),
    "Happily surprised": (4.34, 4.36),
    "Happily fearful": (3.41, 4.32),
    "Happily disgusted": (2.71, 3.51),
    "Sadly fearful": (3.00, 4.06),
    "Sadly angry": (2.67, 4.18),
    "Sadly surprised": (2.50, 4.02),
    "Sadly disgusted": (3.98, 4.57),
    "Fearfully angry": (4.15, 4.12),
    "Fearfully surprised": (3.97, 4.52),
    "Fearfully disgusted": (3.09, 4.52),
    "Angrily surprised": (3.67, 4.74),
    "Angrily disgusted": (2.17, 4.73),
}
PUBLISHED_SOURCE = (
    "C2A2 supplementary (arXiv 2404.01243), Table 1: mean of 8 psychologists' ratings, "
    "315 images per model"
)


def published_score(class_name: str, model: str) -> float:
    """The published mean for a class under '2d' or '3d'."""
    two_d, three_d = PUBLISHED_TABLE1[class_name]
    return two_d if model == "2d" else three_d
