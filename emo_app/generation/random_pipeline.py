"""Randomly initialised Stable Diffusion pipelines: tiny ones for tests, SD 1.4-sized ones for
benchmarks. Both use the real CLIP BPE vocabulary that open_clip ships, so tokenisation (and
therefore placeholder-token injection) behaves exactly as with the released SD 1.4 tokenizer,
without downloading anything."""

from __future__ import annotations

import functools
import gzip
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emo_app.errors import ModelLoadError

CLIP_CONTEXT_LENGTH = 77
_BPE_MERGE_COUNT = 49152 - 256 - 2  # the merges CLIP uses (as in open_clip's SimpleTokenizer)


def _open_clip_bpe_path() -> Path:
    import importlib.util

    found = importlib.util.find_spec("open_clip")
    if found is None or not found.submodule_search_locations:
        raise ModelLoadError("open_clip is not installed, so the CLIP BPE vocabulary is unavailable.")
    path = Path(next(iter(found.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.exists():
        raise ModelLoadError(f"open_clip's BPE vocabulary is missing at {path}.")
    return path


def write_clip_vocab_files(folder: Path) -> tuple[Path, Path]:
    """Convert open_clip's gzip BPE list to the vocab.json + merges.txt pair transformers reads."""
    from open_clip.tokenizer import bytes_to_unicode

    lines = gzip.open(_open_clip_bpe_path()).read().decode("utf-8").split("\n")
    merges = lines[1 : _BPE_MERGE_COUNT + 1]
    byte_chars = list(bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return vocab_path, merges_path


@functools.lru_cache(maxsize=1)
def _cached_vocab_files() -> tuple[Path, Path]:
    return write_clip_vocab_files(Path(tempfile.mkdtemp(prefix="clip-vocab-")))


def clip_tokenizer(folder: Path | None = None) -> Any:
    """The SD 1.x CLIP tokenizer (49408 tokens, 77 positions) built from open_clip's vocabulary.
    Without ``folder`` the converted files are written once per process to a temporary folder."""
    from transformers import CLIPTokenizer

    vocab_path, merges_path = write_clip_vocab_files(folder) if folder else _cached_vocab_files()
    return CLIPTokenizer(vocab=str(vocab_path), merges=str(merges_path), model_max_length=CLIP_CONTEXT_LENGTH)


@dataclass(frozen=True)
class RandomSDConfig:
    """Sizes of a random SD pipeline. ``tiny()`` runs in milliseconds on CPU; ``sd14()`` has the
    real SD 1.4 shapes (860M UNet, 123M text encoder, 84M VAE)."""

    block_out_channels: tuple[int, ...] = (32, 64)
    layers_per_block: int = 1
    attention_head_dim: int | tuple[int, ...] = 2
    cross_attention_dim: int = 32
    text_hidden: int = 32
    text_layers: int = 2
    text_heads: int = 4
    text_intermediate: int = 37
    vae_channels: tuple[int, ...] = (16, 16, 16, 16)  # 4 levels: 8x downsampling, as in SD
    vae_layers_per_block: int = 1
    vae_norm_groups: int = 8
    sample_size: int = 8
    norm_num_groups: int = 32

    @classmethod
    def tiny(cls) -> RandomSDConfig:
        return cls()

    @classmethod
    def sd14(cls) -> RandomSDConfig:
        return cls(
            block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=2,
            attention_head_dim=8,
            cross_attention_dim=768,
            text_hidden=768,
            text_layers=12,
            text_heads=12,
            text_intermediate=3072,
            vae_channels=(128, 256, 512, 512),
            vae_layers_per_block=2,
            vae_norm_groups=32,
            sample_size=64,
        )


def build_random_sd_pipeline(
    config: RandomSDConfig | None = None, seed: int = 0, tokenizer: Any = None
) -> Any:
    """A StableDiffusionPipeline with random weights, the SD 1.4 scheduler and no safety checker."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    config = config or RandomSDConfig.tiny()
    torch.manual_seed(seed)
    depth = len(config.block_out_channels)
    down = ("CrossAttnDownBlock2D",) * (depth - 1) + ("DownBlock2D",)
    up = ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (depth - 1)
    unet = UNet2DConditionModel(
        sample_size=config.sample_size,
        in_channels=4,
        out_channels=4,
        block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        cross_attention_dim=config.cross_attention_dim,
        attention_head_dim=config.attention_head_dim,
        norm_num_groups=config.norm_num_groups,
    )
    vae_depth = len(config.vae_channels)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * vae_depth,
        up_block_types=("UpDecoderBlock2D",) * vae_depth,
        block_out_channels=config.vae_channels,
        layers_per_block=config.vae_layers_per_block,
        latent_channels=4,
        norm_num_groups=config.vae_norm_groups,
        sample_size=config.sample_size * 8,
    )
    tokenizer = tokenizer or clip_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.text_hidden,
            intermediate_size=config.text_intermediate,
            num_attention_heads=config.text_heads,
            num_hidden_layers=config.text_layers,
            max_position_embeddings=CLIP_CONTEXT_LENGTH,
            projection_dim=config.text_hidden,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    from emo_app.generation.schedulers import PAPER_SCHEDULER_CONFIG

    scheduler = DDIMScheduler(**PAPER_SCHEDULER_CONFIG)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
