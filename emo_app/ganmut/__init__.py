"""GANmut-3D: a conditional GAN that learns the C2A2 space's Z axis (supplementary section 2.2)
and edits face photos to any (valence, arousal, Z). Importing this package loads no model."""

from emo_app.ganmut.config import GANMUT_CLASSES, GanmutConfig
from emo_app.ganmut.edit import edit_photo, estimate_point, ganmut_available

__all__ = ["GANMUT_CLASSES", "GanmutConfig", "edit_photo", "estimate_point", "ganmut_available"]
