"""The 3D face: MediaPipe-topology head, ARKit rig, offscreen renderer, exports and photo capture.

Nothing heavy is imported here; ``get_face_renderer`` starts its render thread on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from emo_app.config import Settings
    from emo_app.face.render import FaceRenderer


def get_face_renderer(settings: Settings | None = None) -> FaceRenderer:
    """The process-wide face renderer (one render thread, one GL context)."""
    from emo_app.face.render import get_face_renderer as _get

    return _get(settings)


__all__ = ["get_face_renderer"]
