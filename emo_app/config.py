"""Settings: one dataclass, read from environment variables, so Spaces, Docker and a laptop
configure the app the same way. Each variable is documented in the README."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def _env_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not an integer.") from exc
    if not lo <= value <= hi:
        raise ValueError(f"{name}={value} is outside the allowed range {lo}..{hi}.")
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in choices:
        raise ValueError(f"{name}={value!r} must be one of {', '.join(choices)}.")
    return value


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Build with ``Settings.from_env()``; override fields with ``replace``."""

    weights_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "weights")
    data_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "data")
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto (fp16 on GPU, fp32 on CPU) | float32 | float16 | bfloat16
    offline: bool = False  # never touch the network, even for weights that could be fetched
    host: str = "127.0.0.1"
    port: int = 7860
    render_size: int = 512
    face_head: str = "full"  # full (ICT-FaceKit head) | mediapipe (the photo-fitting mask head)
    face_look: str = "skin"  # skin (generated skin) | photo (a photo's skin mapped onto the face)
    skin_tone: str = "medium"  # light | medium | deep (the generated skin)
    memory_budget_mb: int = 0  # 0 = no limit for the model manager
    max_text_chars: int = 2000
    max_image_pixels: int = 40_000_000

    @classmethod
    def from_env(cls) -> Settings:
        """Read every ``EMO_*`` variable; unset ones keep their defaults."""
        defaults = cls()
        offline_default = _env_bool("HF_HUB_OFFLINE", False)
        return cls(
            weights_dir=Path(os.environ.get("EMO_WEIGHTS_DIR", defaults.weights_dir)).expanduser(),
            data_dir=Path(os.environ.get("EMO_DATA_DIR", defaults.data_dir)).expanduser(),
            device=os.environ.get("EMO_DEVICE", defaults.device).strip().lower() or "auto",
            dtype=_env_choice(
                "EMO_DTYPE", defaults.dtype, ("auto", "float32", "float16", "bfloat16")
            ),
            offline=_env_bool("EMO_OFFLINE", offline_default),
            host=os.environ.get("EMO_HOST", defaults.host),
            port=_env_int("EMO_PORT", defaults.port, 1, 65535),
            render_size=_env_int("EMO_RENDER_SIZE", defaults.render_size, 64, 2048),
            face_head=_env_choice("EMO_FACE_HEAD", defaults.face_head, ("full", "mediapipe")),
            face_look=_env_choice("EMO_FACE_LOOK", defaults.face_look, ("skin", "photo")),
            skin_tone=_env_choice("EMO_SKIN_TONE", defaults.skin_tone, ("light", "medium", "deep")),
            memory_budget_mb=_env_int("EMO_MEMORY_BUDGET_MB", 0, 0, 10_000_000),
            max_text_chars=_env_int("EMO_MAX_TEXT_CHARS", defaults.max_text_chars, 1, 1_000_000),
            max_image_pixels=_env_int(
                "EMO_MAX_IMAGE_PIXELS", defaults.max_image_pixels, 1, 1_000_000_000
            ),
        )

    def describe(self) -> dict[str, str]:
        """Field name -> value as text, for `python -m emo_app settings` and the UI footer."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


ENV_VARS: dict[str, str] = {
    "EMO_WEIGHTS_DIR": "folder searched for model weights (default: ./weights)",
    "EMO_DATA_DIR": "folder for studies, caches and reports (default: ./data)",
    "EMO_DEVICE": "auto, cpu, cuda, cuda:N or mps (auto picks cuda, then mps, then cpu)",
    "EMO_DTYPE": "auto, float32, float16 or bfloat16 (auto: float16 on GPU, float32 on CPU)",
    "EMO_COMPILE": "1 compiles the generator's UNet and VAE decoder at load (CUDA GPUs; warm-up ~1 min)",
    "EMO_OFFLINE": "1 never touches the network; HF_HUB_OFFLINE=1 sets the same default",
    "EMO_HOST": "address the app listens on (default 127.0.0.1; Spaces sets 0.0.0.0)",
    "EMO_PORT": "port the app listens on (default 7860)",
    "EMO_RENDER_SIZE": "face render size in pixels, 64..2048 (default 512)",
    "EMO_FACE_HEAD": "full (the ICT-FaceKit head, the default) or mediapipe (the mask head photos fit)",
    "EMO_FACE_LOOK": "skin (generated skin, the default) or photo (a public-domain photo's skin)",
    "EMO_SKIN_TONE": "light, medium (default) or deep: the generated skin's tone",
    "EMO_MEMORY_BUDGET_MB": "model manager budget; least recently used models are evicted (0 = none)",
    "EMO_MAX_TEXT_CHARS": "longest description accepted (default 2000 characters)",
    "EMO_MAX_IMAGE_PIXELS": "largest uploaded image accepted (default 40 megapixels)",
    "EMO_STUDY_DB": "rating-study SQLite database (default: <EMO_DATA_DIR>/study.sqlite3)",
    "EMO_STUDY_ADMIN_TOKEN": "an extra admin token for the rating study (stored tokens also work)",
}
