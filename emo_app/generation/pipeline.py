"""The C2A2 pipeline: Stable Diffusion 1.4 conditioned on a point of the C2A2 emotion space.

Number mode (fine-tuned weights): the NumberEncoder's embedding replaces the placeholder token
``<emo>`` of an editable template ("a photo of a <emo> person in front of a tree") right after
CLIP's token-embedding lookup, so the rest of the text encoder, and SD, are untouched.
Prompt mode (vanilla SD 1.4): the point's nearest class is written into the prompt in the
form of the supplementary's figures ("a photo of a person ... emotion: happily-surprised");
their DreamBooth identifier "sks" is left out, since it names the fine-tuned subject and means
nothing to vanilla SD 1.4. With ``blend`` the embeddings of the two nearest class prompts are
mixed by inverse distance.

Seeds go through CPU ``torch.Generator``s, one per image, so a seed gives the same starting
noise (hence the same image up to float rounding) on any device and in any batch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emo_app.emotion.space import EmotionPoint, nearest_classes
from emo_app.errors import InvalidInputError, ModelLoadError
from emo_app.generation.number_encoder import CONFIG_NAME, NumberEncoder, NumberEncoderConfig
from emo_app.generation.schedulers import SamplingPreset, make_scheduler
from emo_app.generation.speed import (
    COMPILE_MODE,
    compile_batch_dynamic,
    compile_unavailable_reason,
    use_compile_cache,
)

log = logging.getLogger(__name__)

PLACEHOLDER = "<emo>"
DEFAULT_TEMPLATE = "a photo of a <emo> person"
CLASS_PROMPT = "a photo of a person"  # DreamBooth's prior-preservation caption
PROMPT_MODE_IDENTIFIER = ""  # the figures' "sks" is DreamBooth's subject token: void on vanilla SD
DEFAULT_NEGATIVE_PROMPT = "blurry, deformed, disfigured, low quality, cartoon, text, watermark"
C2A2_CONFIG_NAME = "c2a2.json"
MAX_SEEDS = 16
MAX_TEMPLATE_CHARS = 300

ProgressFn = Callable[[float, str], Any]


def optimize_for_gpu(sd_pipeline: Any) -> Any:
    """GPU speed-ups that keep the images: channels-last convolutions and fused QKV attention
    projections (SDPA is diffusers' default attention with torch 2)."""
    sd_pipeline.unet.to(memory_format=torch.channels_last)
    sd_pipeline.vae.to(memory_format=torch.channels_last)
    try:
        sd_pipeline.fuse_qkv_projections()
    except (AttributeError, ValueError, RuntimeError) as exc:  # older diffusers or custom processors
        log.info("QKV fusion unavailable: %s", exc)
    return sd_pipeline


EMBEDDING_CACHE_SIZE = 512
MAX_BATCH = 4  # images per sampling batch; longer requests run in chunks of this many


def prepare_for_serving(
    pipeline: C2A2Pipeline, compile_modules: bool, warm_up_batches: Sequence[int] = (1, MAX_BATCH),
    size: int = 512, cache_dir: Path | None = None,
) -> C2A2Pipeline:
    """The app's speed path, once per process (the model manager's loader calls it): cache
    embeddings per point, and optionally compile the UNet and VAE decoder (keeping the compiled
    kernels in ``cache_dir`` for the next start) and warm them up at ``warm_up_batches`` so the
    first user request does not pay for compilation (other batch sizes then cost a CUDA-graph
    capture, not a compile)."""
    pipeline.cache_embeddings = True
    if compile_modules and pipeline.compile():
        if cache_dir is not None:
            pipeline.speed["cache_dir"] = str(use_compile_cache(cache_dir))
        seconds = pipeline.warm_up(warm_up_batches, size=size)
        log.info("Compiled the generator; warm-up seconds per batch size: %s", seconds)
    return pipeline


def class_label(name: str) -> str:
    """'Happily surprised' -> 'happily-surprised' (the spelling of the supplementary's prompts)."""
    return name.lower().replace(" ", "-")


def validate_template(template: str, *, needs_placeholder: bool) -> str:
    """A usable prompt template: text, not too long, with exactly one ``<emo>`` in number mode."""
    if not isinstance(template, str) or not template.strip():
        raise InvalidInputError(f"The prompt template is empty; write e.g. '{DEFAULT_TEMPLATE}'.")
    template = " ".join(template.split())
    if len(template) > MAX_TEMPLATE_CHARS:
        raise InvalidInputError(f"The prompt template is longer than {MAX_TEMPLATE_CHARS} characters.")
    count = template.count(PLACEHOLDER)
    if needs_placeholder and count != 1:
        raise InvalidInputError(
            f"The template must contain {PLACEHOLDER} exactly once (found {count}), where the emotion "
            f"goes, e.g. '{DEFAULT_TEMPLATE} in front of a tree'."
        )
    if count > 1:
        raise InvalidInputError(f"Write {PLACEHOLDER} at most once in the template.")
    return template


def validate_seeds(seeds: Sequence[int] | int) -> list[int]:
    if isinstance(seeds, (int,)) and not isinstance(seeds, bool):
        seeds = [seeds]
    try:
        values = [int(s) for s in seeds]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("Seeds must be whole numbers, e.g. 0, 1, 2.") from exc
    if not values:
        raise InvalidInputError("Give at least one seed.")
    if len(values) > MAX_SEEDS:
        raise InvalidInputError(f"At most {MAX_SEEDS} seeds per request; got {len(values)}.")
    if any(not 0 <= s < 2**63 for s in values):
        raise InvalidInputError("Seeds must be between 0 and 2**63 - 1.")
    return values


def prompt_mode_prompts(
    point: EmotionPoint, template: str = DEFAULT_TEMPLATE, blend: bool = True,
    identifier: str = PROMPT_MODE_IDENTIFIER,
) -> list[tuple[str, float]]:
    """(prompt, weight) pairs for a point in prompt mode: the nearest class, or the two nearest
    weighted by inverse distance (weights sum to 1). ``<emo>`` becomes ``identifier`` (nothing
    by default; "sks" only for a model DreamBooth-trained with that token)."""
    template = validate_template(template, needs_placeholder=False)
    base = " ".join(template.replace(PLACEHOLDER, identifier).split())
    ranked = nearest_classes(point, 2 if blend else 1)
    inverse = [1.0 / (distance + 1e-3) for _, distance in ranked]
    total = sum(inverse)
    return [(f"{base} emotion: {class_label(name)}", w / total) for (name, _), w in zip(ranked, inverse)]


@dataclass
class GenerationRequest:
    """Everything one call needs; ``points`` and ``seeds`` pair up one image each."""

    points: list[EmotionPoint]
    seeds: list[int]
    preset: SamplingPreset
    template: str = DEFAULT_TEMPLATE
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    mode: str = "number"  # number | prompt
    height: int | None = None
    width: int | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    blend: bool = True
    max_batch: int = MAX_BATCH


class C2A2Pipeline:
    """A diffusers StableDiffusionPipeline plus (optionally) the NumberEncoder."""

    def __init__(
        self, sd_pipeline: Any, number_encoder: NumberEncoder | None = None, placeholder: str = PLACEHOLDER
    ):
        self.sd = sd_pipeline
        self.number_encoder = number_encoder
        self.placeholder = placeholder
        self.placeholder_id: int | None = None
        self._lock = threading.Lock()
        self._vectors: torch.Tensor | None = None
        self._hook = None
        # Inference speed path (off for training, whose weights move): per-point embeddings are
        # kept, and ``speed`` says whether the UNet/VAE decoder were compiled and the warm-up cost.
        self.cache_embeddings = False
        self._embeddings: OrderedDict[tuple[Any, ...], torch.Tensor] = OrderedDict()
        self.speed: dict[str, Any] = {"compiled": False, "reason": "not requested"}
        if number_encoder is not None:
            self._install_placeholder()

    # ----- placeholder token and injection -------------------------------------------------
    def _install_placeholder(self) -> None:
        tokenizer, text_encoder = self.sd.tokenizer, self.sd.text_encoder
        tokenizer.add_tokens([self.placeholder])
        self.placeholder_id = int(tokenizer.convert_tokens_to_ids(self.placeholder))
        if text_encoder.get_input_embeddings().num_embeddings < len(tokenizer):
            text_encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        ids = tokenizer(DEFAULT_TEMPLATE).input_ids
        if ids.count(self.placeholder_id) != 1:
            raise ModelLoadError(f"The tokenizer does not keep '{self.placeholder}' as one token.")
        embedding = text_encoder.get_input_embeddings()
        self._hook = embedding.register_forward_hook(self._inject)

    def _inject(self, module: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        """Replace the placeholder's embedding with the NumberEncoder's vector for that row."""
        vectors = self._vectors
        if vectors is None or self.placeholder_id is None:
            return output
        mask = (inputs[0] == self.placeholder_id)[..., None]
        return torch.where(mask, vectors[:, None, :].to(output.device, output.dtype), output)

    @contextmanager
    def injecting(self, vectors: torch.Tensor) -> Iterator[None]:
        """While active, every placeholder token in row i reads ``vectors[i]``."""
        self._vectors = vectors
        try:
            yield
        finally:
            self._vectors = None

    @property
    def components(self) -> dict[str, Any]:
        """The torch modules (lets the ModelManager measure the pipeline's memory)."""
        parts = dict(self.sd.components)
        if self.number_encoder is not None:
            parts["number_encoder"] = self.number_encoder
        return parts

    @property
    def mode(self) -> str:
        return "number" if self.number_encoder is not None else "prompt"

    @property
    def device(self) -> torch.device:
        return self.sd._execution_device

    def initialize_number_encoder_base(self, word: str = "person") -> None:
        """Start the encoder's base token at a real word's embedding (before training)."""
        ids = self.sd.tokenizer(word, add_special_tokens=False).input_ids
        table = self.sd.text_encoder.get_input_embeddings().weight
        self.number_encoder.initialize_base(table[ids].mean(0))

    # ----- text -> embeddings ----------------------------------------------------------------
    def token_ids(self, prompts: Sequence[str]) -> torch.Tensor:
        tokenizer = self.sd.tokenizer
        return tokenizer(
            list(prompts),
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids

    def encode_text(self, prompts: Sequence[str], vectors: torch.Tensor | None = None) -> torch.Tensor:
        """CLIP hidden states for ``prompts``; placeholder rows read ``vectors`` (grad flows)."""
        ids = self.token_ids(prompts).to(self.device)
        if vectors is not None:
            if self.placeholder_id is not None and (ids == self.placeholder_id).sum(1).eq(0).any():
                raise InvalidInputError(f"A number-mode prompt lost its {PLACEHOLDER} token (too long?).")
            with self.injecting(vectors):
                return self.sd.text_encoder(ids)[0]
        return self.sd.text_encoder(ids)[0]

    def point_vectors(self, points: Sequence[EmotionPoint]) -> torch.Tensor:
        if self.number_encoder is None:
            raise InvalidInputError("These weights have no NumberEncoder; use prompt mode.")
        xyz = torch.from_numpy(np.stack([p.as_array() for p in points])).float()
        self.number_encoder.to(self.device)
        return self.number_encoder(xyz.to(self.device))

    def encode_points(self, points: Sequence[EmotionPoint], template: str = DEFAULT_TEMPLATE) -> torch.Tensor:
        """Number mode: (len(points), 77, hidden) prompt embeddings for the template."""
        template = validate_template(template, needs_placeholder=True)
        return self.encode_text([template] * len(points), self.point_vectors(points))

    def encode_prompt_mode(
        self, points: Sequence[EmotionPoint], template: str = DEFAULT_TEMPLATE, blend: bool = True
    ) -> torch.Tensor:
        """Prompt mode: each point's class prompt(s), blended in embedding space."""
        rows = []
        for point in points:
            pairs = prompt_mode_prompts(point, template, blend)
            embeds = self.encode_text([p for p, _ in pairs])
            weights = torch.tensor([w for _, w in pairs], device=embeds.device, dtype=embeds.dtype)
            rows.append((embeds * weights[:, None, None]).sum(0))
        return torch.stack(rows)

    @contextmanager
    def using_scheduler(self, preset: SamplingPreset) -> Iterator[None]:
        """Sample with ``preset``'s solver, then put the model's own scheduler back (so a saved
        pipeline keeps its training scheduler whatever was sampled last)."""
        original = self.sd.scheduler
        self.sd.scheduler = make_scheduler(preset, dict(original.config))
        try:
            yield
        finally:
            self.sd.scheduler = original

    # ----- speed path ------------------------------------------------------------------------
    def compile(
        self, mode: str | None = COMPILE_MODE, decoder: bool = True, backend: Any = "inductor"
    ) -> bool:
        """Compile the UNet and (``decoder``) the VAE decoder once (in place, so the pipeline
        keeps its types and saves as before); where compile cannot help (CPU, MPS, old GPUs,
        ZeroGPU) leave them as they are and say why in ``speed``. Returns whether it compiled.
        One compiled graph serves every batch size: the UNet's batch dimension is dynamic from
        the first call, and the decoder decodes one image at a time (it is compute-bound, so
        slicing costs little) at a fixed shape."""
        reason = compile_unavailable_reason(self.device)
        if reason is not None:
            log.info("Not compiling the generator: %s", reason)
            self.speed = {"compiled": False, "reason": reason}
            return False
        start = time.perf_counter()
        compile_batch_dynamic(self.sd.unet, ("sample", "encoder_hidden_states"), mode=mode, backend=backend)
        if decoder:
            self.sd.vae.enable_slicing()
            self.sd.vae.decoder.compile(mode=mode, backend=backend)
        self.speed = {"compiled": True, "mode": mode, "reason": "", "decoder": decoder,
                      "compile_call_seconds": round(time.perf_counter() - start, 3)}
        return True

    def warm_up(self, batch_sizes: Sequence[int] = (1,), size: int = 512, steps: int = 2) -> dict[int, float]:
        """Run each batch size once (compilation and CUDA-graph capture happen on a shape's
        first call), recording the seconds per batch size in ``speed['warmup_seconds']``."""
        from emo_app.generation.schedulers import get_preset

        timings: dict[int, float] = {}
        for batch in batch_sizes:
            points = [EmotionPoint(0.0, 0.0, 0.0)] * batch
            request = GenerationRequest(points, list(range(batch)), get_preset("fast"), mode=self.mode,
                                        height=size, width=size, steps=steps, max_batch=batch)
            start = time.perf_counter()
            self.generate(request)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            timings[batch] = round(time.perf_counter() - start, 3)
        self.speed.setdefault("warmup_seconds", {}).update(timings)
        return timings

    def _embeddings_for(
        self, keys: list[tuple[Any, ...]], encode: Callable[[list[int]], torch.Tensor]
    ) -> torch.Tensor:
        """Rows for ``keys``; with the cache on, only unseen keys are encoded (in one batch).
        Rows are kept on the CPU and moved per call, so they survive offloading and ZeroGPU's
        per-call GPU."""
        if not self.cache_embeddings:
            return encode(list(range(len(keys))))
        missing = [i for i, key in enumerate(keys) if key not in self._embeddings]
        if missing:
            for i, row in zip(missing, encode(missing).cpu()):
                self._embeddings[keys[i]] = row
        rows = []
        for key in keys:
            self._embeddings.move_to_end(key)
            rows.append(self._embeddings[key])
        while len(self._embeddings) > EMBEDDING_CACHE_SIZE:
            self._embeddings.popitem(last=False)
        return torch.stack(rows).to(self.device)

    # ----- sampling --------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, request: GenerationRequest, progress: ProgressFn | None = None) -> list[Any]:
        """PIL images, one per (point, seed) pair, in order."""
        if len(request.points) != len(request.seeds):
            raise InvalidInputError("Give one seed per point.")
        mode = request.mode
        if mode == "number" and self.number_encoder is None:
            raise InvalidInputError("These weights have no NumberEncoder; use mode='prompt'.")
        preset = request.preset
        steps = int(request.steps or preset.steps)
        size_h = int(request.height or preset.size)
        size_w = int(request.width or preset.size)
        for name, value in (("height", size_h), ("width", size_w)):
            if value % 8 or not 64 <= value <= 1024:
                raise InvalidInputError(f"{name} must be a multiple of 8 between 64 and 1024; got {value}.")
        if not 1 <= steps <= 500:
            raise InvalidInputError(f"steps must be between 1 and 500; got {steps}.")
        guidance = float(preset.guidance_scale if request.guidance_scale is None else request.guidance_scale)
        total = len(request.points)
        chunk = max(1, int(request.max_batch))
        images: list[Any] = []
        negative_text = request.negative_prompt or ""
        with self._lock:
            with self.using_scheduler(preset):
                for start in range(0, total, chunk):
                    points = request.points[start : start + chunk]
                    seeds = request.seeds[start : start + chunk]
                    keys = [(mode, request.template, request.blend, *p.as_array().tolist()) for p in points]
                    if mode == "number":
                        embeds = self._embeddings_for(
                            keys, lambda rows, _p=points: self.encode_points([_p[i] for i in rows],
                                                                             request.template))
                    else:
                        embeds = self._embeddings_for(
                            keys, lambda rows, _p=points: self.encode_prompt_mode(
                                [_p[i] for i in rows], request.template, request.blend))
                    if self.cache_embeddings:
                        negative = self._embeddings_for(
                            [("negative", negative_text)], lambda rows: self.encode_text([negative_text])
                        ).expand(len(points), -1, -1)
                    else:
                        negative = self.encode_text([negative_text] * len(points))
                    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
                    done_before = start

                    def on_step(
                        pipe: Any,
                        step: int,
                        timestep: Any,
                        kwargs: dict[str, Any],
                        _done: int = done_before,
                        _n: int = len(points),
                    ) -> dict[str, Any]:
                        if progress is not None:
                            fraction = (_done + _n * (step + 1) / steps) / total
                            progress(min(1.0, fraction), f"step {step + 1}/{steps}")
                        return kwargs

                    out = self.sd(
                        prompt_embeds=embeds,
                        negative_prompt_embeds=negative,
                        height=size_h,
                        width=size_w,
                        num_inference_steps=steps,
                        guidance_scale=guidance,
                        eta=preset.eta,
                        generator=generators,
                        callback_on_step_end=on_step,
                        output_type="pil",
                    )
                    images.extend(out.images)
        return images

    # ----- persistence -----------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """A diffusers pipeline folder plus number_encoder.safetensors/.json and c2a2.json."""
        folder = Path(folder)
        self.sd.save_pretrained(str(folder), safe_serialization=True)
        if self.number_encoder is not None:
            self.number_encoder.save_pretrained(folder)
        meta = {"placeholder": self.placeholder, "template": DEFAULT_TEMPLATE, **(extra or {})}
        (folder / C2A2_CONFIG_NAME).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, *, torch_dtype: Any = None, require_number_encoder: bool = False
    ) -> C2A2Pipeline:
        """Load a saved C2A2 folder (number mode) or a plain SD folder (prompt mode)."""
        from diffusers import StableDiffusionPipeline

        folder = Path(folder)
        if not (folder / "model_index.json").exists():
            raise ModelLoadError(f"'{folder}' is not a diffusers pipeline folder (no model_index.json).")
        has_encoder = (folder / CONFIG_NAME).exists()
        if require_number_encoder and not has_encoder:
            raise ModelLoadError(f"'{folder}' has no NumberEncoder; train one with `train-c2a2`.")
        kwargs: dict[str, Any] = {}
        if torch_dtype is not None:
            kwargs["dtype"] = torch_dtype
        sd = StableDiffusionPipeline.from_pretrained(str(folder), **kwargs)
        sd.set_progress_bar_config(disable=True)
        encoder = NumberEncoder.from_pretrained(folder) if has_encoder else None
        placeholder = PLACEHOLDER
        meta_path = folder / C2A2_CONFIG_NAME
        if meta_path.exists():
            placeholder = json.loads(meta_path.read_text(encoding="utf-8")).get("placeholder", PLACEHOLDER)
        return cls(sd, encoder, placeholder)

    @classmethod
    def with_new_number_encoder(
        cls, sd_pipeline: Any, config: NumberEncoderConfig | None = None, seed: int = 0
    ) -> C2A2Pipeline:
        """Add a fresh NumberEncoder to a plain SD pipeline (the start of training)."""
        hidden = sd_pipeline.text_encoder.config.hidden_size
        torch.manual_seed(seed)
        encoder = NumberEncoder(config or NumberEncoderConfig(embedding_dim=hidden))
        if encoder.config.embedding_dim != hidden:
            raise InvalidInputError(
                f"NumberEncoder embedding_dim {encoder.config.embedding_dim} != text encoder width {hidden}."
            )
        pipeline = cls(sd_pipeline, encoder)
        pipeline.initialize_number_encoder_base()
        return pipeline

    def to(self, device: Any = None, dtype: Any = None) -> C2A2Pipeline:
        self.sd.to(device, dtype) if dtype is not None else self.sd.to(device)
        if self.number_encoder is not None and device is not None:
            self.number_encoder.to(device)
        return self
