"""Which head and which skin a face is drawn with: the one place the app's defaults are chosen.

Heads: "full" (ICT-FaceKit, shipped in assets/, the default) and "mediapipe" (the mask head
whose vertices are MediaPipe's landmarks, so any photo fits it). Looks: "skin" (on the full
head the generated skin in a chosen tone; on the mask head clean skin) and "photo" (a photo's
skin: the public-domain astronaut by default, on the full head through
``photo_skin``).
"""

from __future__ import annotations

import logging
from typing import Any

from emo_app.config import Settings
from emo_app.errors import EmoAppError, InvalidInputError

log = logging.getLogger(__name__)

HEADS = ("full", "mediapipe")
LOOKS = ("skin", "photo")
BACKGROUNDS = {"light": (255, 255, 255), "dark": (34, 36, 42)}


def _choice(value: str | None, default: str, allowed: tuple[str, ...] | dict, what: str) -> str:
    value = value or default
    if value not in allowed:
        raise InvalidInputError(f"Unknown {what} '{value}'; choose one of {', '.join(allowed)}.")
    return value


def head_rig(head: str | None = None, settings: Settings | None = None) -> Any:
    """The rig of a named head (default: ``settings.face_head``), built once per process."""
    settings = settings or Settings.from_env()
    head = _choice(head, settings.face_head, HEADS, "head")
    if head == "full":
        from emo_app.face.hd_head import load_default_head

        return load_default_head(settings)
    from emo_app.face.rig import build_rig

    return build_rig()


def head_name(rig: Any) -> str:
    """"full" or "mediapipe" for a rig (a photo-built rig is a mask head)."""
    return "full" if getattr(rig, "head", "mediapipe") == "ict" else "mediapipe"


def look_texture(look: str | None = None, *, head: str | None = None, tone: str | None = None,
                 settings: Settings | None = None) -> Any:
    """The texture a look draws ``head`` with (None: the head's plain materials). A photo that
    cannot be had (no face model, no face found) falls back to the skin look with a warning."""
    settings = settings or Settings.from_env()
    look = _choice(look, settings.face_look, LOOKS, "look")
    head = _choice(head, settings.face_head, HEADS, "head")
    tone = tone or settings.skin_tone
    if head == "full":
        from emo_app.face.skin import skin_texture

        if look == "photo":
            from emo_app.face.photo_skin import default_photo_skin

            try:
                return default_photo_skin(tone, settings)
            except (EmoAppError, OSError) as exc:  # the look is cosmetic: skin beats no face
                log.warning("The photo skin is unavailable (%s); drawing the generated skin instead.", exc)
        return skin_texture(tone)
    if look == "skin":
        return None
    from emo_app.face.texture import default_texture

    try:
        return default_texture(settings)
    except Exception as exc:  # the look is cosmetic: clean skin beats no face at all
        log.warning("The photo look is unavailable (%s); drawing clean skin instead.", exc)
        return None


def background_rgb(background: str | None) -> tuple[int, int, int]:
    """RGB of a named background ("light" or "dark")."""
    return BACKGROUNDS[_choice(background, "light", BACKGROUNDS, "background")]


def default_face(settings: Settings | None = None) -> tuple[Any, Any]:
    """(rig, texture) of the face drawn when a caller names neither: the settings' head and look."""
    settings = settings or Settings.from_env()
    return head_rig(None, settings), look_texture(None, settings=settings)
