"""C2A2 pipeline on a tiny random SD pipeline with the real CLIP vocabulary: NumberEncoder
injection, seeds, prompt mode, save/reload, and the public API's CPU guard."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emo_app.emotion.space import EmotionPoint
from emo_app.errors import EmoAppError, InvalidInputError, MissingWeightsError
from emo_app.generation.pipeline import (
    C2A2Pipeline,
    GenerationRequest,
    prompt_mode_prompts,
    validate_template,
)
from emo_app.generation.random_pipeline import build_random_sd_pipeline, clip_tokenizer
from emo_app.generation.schedulers import DEFAULT_PRESET, PRESETS, get_preset, make_scheduler

HAPPY = EmotionPoint.of_class("Happy")
SAD = EmotionPoint.of_class("Sad")


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return clip_tokenizer(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def c2a2(tokenizer):
    sd = build_random_sd_pipeline(seed=0, tokenizer=tokenizer)
    sd.set_progress_bar_config(disable=True)
    return C2A2Pipeline.with_new_number_encoder(sd, seed=0)


def _request(points, seeds, mode="number", **kwargs):
    kwargs.setdefault("steps", 2)
    return GenerationRequest(
        points=list(points),
        seeds=list(seeds),
        preset=get_preset("fast"),
        mode=mode,
        height=64,
        width=64,
        negative_prompt="",
        **kwargs,
    )


def test_real_clip_vocabulary_tokenises_like_sd(tokenizer):
    tok = tokenizer
    assert len(tok) == 49408
    # "a photo of a person" in SD 1.4's tokenizer: bos, a, photo, of, a, person, eos
    assert tok("a photo of a person").input_ids == [49406, 320, 1125, 539, 320, 2533, 49407]


def test_placeholder_is_one_token_and_points_change_only_its_embedding(c2a2):
    ids = c2a2.token_ids(["a photo of a <emo> person"])[0]
    assert int((ids == c2a2.placeholder_id).sum()) == 1
    with torch.no_grad():
        happy, sad = c2a2.encode_points([HAPPY, SAD])
        again = c2a2.encode_points([HAPPY])[0]
    position = int((ids == c2a2.placeholder_id).nonzero()[0])
    # causal CLIP: tokens before the placeholder cannot see it, tokens from it on differ
    assert torch.allclose(happy[:position], sad[:position])
    assert not torch.allclose(happy[position:], sad[position:])
    torch.testing.assert_close(happy, again)  # the same point, the same embedding


def test_template_must_hold_the_placeholder_once():
    with pytest.raises(InvalidInputError, match="exactly once"):
        validate_template("a photo of a person", needs_placeholder=True)
    with pytest.raises(InvalidInputError, match="empty"):
        validate_template("   ", needs_placeholder=False)
    assert validate_template("a photo of a <emo> person  in front of a tree", needs_placeholder=True) == (
        "a photo of a <emo> person in front of a tree"
    )


def test_same_seed_same_image_and_batching_does_not_change_it(c2a2):
    single = c2a2.generate(_request([HAPPY], [7]))[0]
    batch = c2a2.generate(_request([SAD, HAPPY, HAPPY], [7, 7, 8]))
    np.testing.assert_allclose(np.asarray(single, float), np.asarray(batch[1], float), atol=2)
    assert not np.array_equal(np.asarray(batch[1]), np.asarray(batch[2]))  # another seed, another image
    assert single.size == (64, 64)


def test_progress_reports_every_step_up_to_one(c2a2):
    seen = []
    c2a2.generate(_request([HAPPY, SAD], [0, 1], max_batch=1), progress=lambda f, _msg: seen.append(f))
    assert len(seen) == 4 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_prompt_mode_writes_nearest_classes_into_the_prompt():
    point = EmotionPoint(0.74, 0.66, 0.02)  # next to Happily surprised
    pairs = prompt_mode_prompts(point, "a photo of a <emo> person in front of a tree")
    assert pairs[0][0] == "a photo of a person in front of a tree emotion: happily-surprised"
    assert pairs[0][1] > pairs[1][1] and sum(w for _, w in pairs) == pytest.approx(1.0)
    assert prompt_mode_prompts(EmotionPoint(0, 0, 0), blend=False) == [
        ("a photo of a person emotion: neutral", 1.0)
    ]
    # "sks" is a DreamBooth subject token; vanilla SD 1.4 (prompt mode) never sees it by default
    assert not any("sks" in prompt for prompt, _ in pairs)
    assert prompt_mode_prompts(EmotionPoint(0, 0, 0), blend=False, identifier="sks")[0][0] == (
        "a photo of a sks person emotion: neutral"
    )


def test_prompt_mode_generates_from_a_plain_sd_pipeline(tokenizer):
    sd = build_random_sd_pipeline(seed=1, tokenizer=tokenizer)
    plain = C2A2Pipeline(sd)
    assert plain.mode == "prompt"
    with torch.no_grad():
        blended = plain.encode_prompt_mode([EmotionPoint(0.5, 0.8, 0.0)])
        happy = plain.encode_prompt_mode([HAPPY], blend=False)
    assert blended.shape == happy.shape and not torch.allclose(blended, happy)
    images = plain.generate(_request([HAPPY], [0], mode="prompt"))
    assert images[0].size == (64, 64)
    with pytest.raises(InvalidInputError, match="NumberEncoder"):
        plain.generate(_request([HAPPY], [0], mode="number"))


def test_save_and_reload_gives_identical_images(c2a2, tmp_path):
    before = c2a2.generate(_request([SAD], [3]))[0]
    c2a2.save_pretrained(tmp_path / "c2a2")
    assert (tmp_path / "c2a2" / "number_encoder.safetensors").exists()
    reloaded = C2A2Pipeline.from_pretrained(tmp_path / "c2a2", require_number_encoder=True)
    reloaded.sd.set_progress_bar_config(disable=True)
    assert reloaded.mode == "number" and reloaded.placeholder_id == c2a2.placeholder_id
    after = reloaded.generate(_request([SAD], [3]))[0]
    np.testing.assert_array_equal(np.asarray(before), np.asarray(after))


def test_presets_follow_the_paper():
    import inspect

    from emo_app.generation import api

    paper = PRESETS[DEFAULT_PRESET]
    for function in (api.generate_for_points, api.generate_for_point):
        assert inspect.signature(function).parameters["preset"].default == "paper"
    assert (paper.solver, paper.steps, paper.guidance_scale, paper.eta) == ("ddim", 100, 10.0, 0.0)
    scheduler = make_scheduler("paper")
    assert scheduler.config.beta_schedule == "scaled_linear"
    assert (scheduler.config.beta_start, scheduler.config.beta_end) == (0.00085, 0.012)
    fast = make_scheduler("fast")
    assert (
        type(fast).__name__ == "DPMSolverMultistepScheduler" and fast.config.algorithm_type == "dpmsolver++"
    )
    with pytest.raises(InvalidInputError, match="preset"):
        get_preset("turbo")


@pytest.fixture()
def weights_dir(tmp_path, monkeypatch, c2a2):
    """A weights folder holding the tiny pipeline as 'c2a2-sd', seen by the resolver."""
    from emo_app.generation import api

    c2a2.save_pretrained(tmp_path / "c2a2-sd")
    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(api, "gpu_available", lambda: False)
    api.unload_generator()
    yield tmp_path
    api.unload_generator()


def test_public_api_refuses_cpu_generation_unless_a_preview_is_asked(weights_dir):
    from emo_app.generation import api

    with pytest.raises(EmoAppError, match="needs a CUDA GPU"):
        api.generate_for_point(HAPPY, seeds=(0,))
    status = api.generator_status()
    assert status["mode"] == "number" and not status["can_generate"] and status["cpu_preview"]
    images = api.generate_for_point(
        HAPPY, seeds=(0, 1), allow_cpu_preview=True, size=64, num_inference_steps=2
    )
    assert len(images) == 2 and images[0].size == (64, 64)
    assert "c2a2-pipeline" in api.generator_status()["loaded"]


def test_public_api_names_the_missing_weights(tmp_path, monkeypatch):
    from emo_app.generation import api

    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("EMO_OFFLINE", "1")
    monkeypatch.setattr(api, "gpu_available", lambda: False)
    assert api.generator_status()["mode"] is None
    with pytest.raises(MissingWeightsError, match="sd-1.4"):
        api.generate_for_point(HAPPY, allow_cpu_preview=True, size=64, num_inference_steps=2)
    with pytest.raises(InvalidInputError, match="mode"):
        api.generate_for_point(HAPPY, mode="magic")
    with pytest.raises(InvalidInputError, match="seed"):
        api.generate_for_point(HAPPY, seeds=())


def test_number_encoder_frequencies_are_what_its_config_says():
    """Measured on the features themselves: sin(pi f x) for f = 1..max_frequency runs 0.5 to
    max_frequency / 2 cycles per unit, as NumberEncoderConfig documents."""
    from emo_app.generation.number_encoder import NumberEncoder, NumberEncoderConfig

    config = NumberEncoderConfig(embedding_dim=8, hidden_dim=8)
    encoder = NumberEncoder(config)
    length = 10.0
    x = torch.linspace(0.0, length, 20001, dtype=torch.float64)
    points = torch.stack([x, torch.zeros_like(x), torch.zeros_like(x)], dim=1).float()
    with torch.no_grad():
        sines = encoder.fourier_features(points)[:, 3 : 3 + config.num_frequencies].double()
    signs = torch.sign(sines[1:]) != torch.sign(sines[:-1])
    measured = signs.sum(0).double() / 2 / length  # two zero crossings per cycle
    assert torch.allclose(measured, encoder.cycles_per_unit.double(), atol=0.05)
    assert float(encoder.cycles_per_unit.min()) == pytest.approx(0.5)
    assert float(encoder.cycles_per_unit.max()) == pytest.approx(config.max_frequency / 2)


def test_speed_path_falls_back_on_cpu_and_keeps_the_images(tmp_path, monkeypatch):
    """Asking for compilation on CPU leaves the modules uncompiled, says why, and the images
    (with the per-point embedding cache on) equal the plain pipeline's, also on a cache hit."""
    from emo_app.generation.pipeline import prepare_for_serving
    from emo_app.generation.speed import compile_unavailable_reason

    def fresh():  # its own tokenizer: adding <emo> to a shared one would change the second build
        sd = build_random_sd_pipeline(seed=0, tokenizer=clip_tokenizer(tmp_path / str(len(built))))
        sd.set_progress_bar_config(disable=True)
        built.append(C2A2Pipeline.with_new_number_encoder(sd, seed=0))
        return built[-1]

    built: list[C2A2Pipeline] = []
    plain, fast = fresh(), prepare_for_serving(fresh(), compile_modules=True, warm_up_batches=())
    assert "CUDA" in compile_unavailable_reason("cpu")
    assert fast.speed["compiled"] is False and "cpu" in fast.speed["reason"]
    assert fast.cache_embeddings and not plain.cache_embeddings
    assert type(fast.sd.unet).__name__ == "UNet2DConditionModel" and fast.sd.unet._compiled_call_impl is None
    request = _request([HAPPY, SAD], [3, 4])
    expected = [np.asarray(i) for i in plain.generate(request)]
    encoded = []
    original = fast.encode_points
    monkeypatch.setattr(fast, "encode_points", lambda p, t: encoded.append(len(p)) or original(p, t))
    for _ in range(2):  # the first call fills the cache, the second reads it
        got = [np.asarray(i) for i in fast.generate(request)]
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)
    assert encoded == [2]  # the two points were encoded once, together
    mixed = fast.generate(_request([SAD, EmotionPoint(0.1, 0.2, 0.3)], [4, 5]))
    assert encoded == [2, 1]  # only the new point is encoded
    np.testing.assert_array_equal(np.asarray(mixed[0]), expected[1])


def test_one_compiled_graph_serves_every_batch_size(tmp_path, monkeypatch):
    """Compiling traces the UNet and the VAE decoder once each: batch 1, then batch 4, then
    batch 2 reuse the first graphs (no recompile: on the H200 the second batch size's recompile
    cost 114 s of warm-up), and the images equal the uncompiled pipeline's. Runs on CPU through
    a backend that counts the graphs dynamo hands it and runs them as traced."""
    import emo_app.generation.pipeline as pipeline_module
    from emo_app.generation.pipeline import prepare_for_serving

    graphs = []

    def counting_backend(graph, example_inputs):
        graphs.append([tuple(t.shape) for t in example_inputs if isinstance(t, torch.Tensor)])
        return graph.forward

    def fresh(name):
        sd = build_random_sd_pipeline(seed=0, tokenizer=clip_tokenizer(tmp_path / name))
        sd.set_progress_bar_config(disable=True)
        return C2A2Pipeline.with_new_number_encoder(sd, seed=0)

    torch._dynamo.reset()
    monkeypatch.setattr(pipeline_module, "compile_unavailable_reason", lambda device: None)
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    plain, fast = fresh("plain"), fresh("fast")
    compile_for_test = lambda: C2A2Pipeline.compile(fast, mode=None, backend=counting_backend)  # noqa: E731
    monkeypatch.setattr(fast, "compile", compile_for_test)
    prepare_for_serving(fast, compile_modules=True, warm_up_batches=(1, 4), size=64,
                        cache_dir=tmp_path / "compile_cache")
    assert fast.speed["compiled"] is True and set(fast.speed["warmup_seconds"]) == {1, 4}
    assert fast.speed["cache_dir"] == str(tmp_path / "compile_cache")
    assert len(graphs) == 2, graphs  # the UNet's and the decoder's, nothing recompiled
    points = [HAPPY, SAD]
    request = _request(points, [3, 4], max_batch=2)
    for a, b in zip(plain.generate(request), fast.generate(request), strict=True):
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1)
    assert len(graphs) == 2
    torch._dynamo.reset()


def test_warm_up_records_seconds_per_batch_size(c2a2):
    seconds = c2a2.warm_up((1, 2), size=64, steps=1)
    assert set(seconds) == {1, 2} and all(s > 0 for s in seconds.values())
    assert c2a2.speed["warmup_seconds"] == seconds


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch.compile with CUDA graphs needs CUDA")
def test_compiled_images_match_uncompiled_fp16_on_cuda(tmp_path):
    """On a GPU the fast path compiles; its images match the uncompiled fp16 ones (same seeds)
    within 2 levels on average (kernels differ, fp16 rounding differs)."""
    from emo_app.generation.pipeline import prepare_for_serving

    def fresh(name):
        sd = build_random_sd_pipeline(seed=0, tokenizer=clip_tokenizer(tmp_path / name))
        sd = sd.to("cuda", torch.float16)
        sd.set_progress_bar_config(disable=True)
        return C2A2Pipeline.with_new_number_encoder(sd, seed=0)

    plain = fresh("plain")
    fast = prepare_for_serving(fresh("fast"), compile_modules=True, warm_up_batches=(2,), size=64)
    assert fast.speed["compiled"] is True and fast.speed["warmup_seconds"][2] > 0
    request = _request([HAPPY, SAD], [3, 4])
    for a, b in zip(plain.generate(request), fast.generate(request), strict=True):
        diff = np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int))
        assert diff.mean() < 2.0, diff.mean()
