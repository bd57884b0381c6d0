"""DreamBooth + NumberEncoder training on a tiny random SD pipeline at 64 px: two steps change
the weights, the saved folder reloads to identical images, checkpoints resume, bad labels fail."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError
from emo_app.generation.pipeline import C2A2Pipeline, GenerationRequest
from emo_app.generation.random_pipeline import build_random_sd_pipeline, clip_tokenizer
from emo_app.generation.schedulers import get_preset
from emo_app.generation.train import (
    TrainConfig,
    latest_checkpoint,
    prepare_class_images,
    read_labels,
    train_c2a2,
)


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    """A plain (vanilla-SD-like) pipeline folder, as `--base` would name."""
    folder = tmp_path_factory.mktemp("base") / "sd"
    build_random_sd_pipeline(
        seed=0, tokenizer=clip_tokenizer(tmp_path_factory.mktemp("vocab"))
    ).save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def initial_weights(base_folder):
    """The trained modules' weights before the first step: the base UNet and the NumberEncoder a
    run with seed 0 starts from (what an update is measured against)."""
    start = C2A2Pipeline.with_new_number_encoder(C2A2Pipeline.from_pretrained(base_folder).sd, seed=0)
    init = {f"unet.{k}": v for k, v in start.sd.unet.state_dict().items()}
    return init | {f"ne.{k}": v for k, v in start.number_encoder.state_dict().items()}


@pytest.fixture(scope="module")
def two_step_run(tmp_path_factory, base_folder):
    """A plain 2-step run (batch 1, prior preservation on) from the base folder, with every text
    encoding recorded; several tests read it, none writes into its folder."""
    config = _config(tmp_path_factory.mktemp("two-step"), base_folder, max_steps=2, validate_every=0,
                     checkpoint_every=0)
    prompts = []
    original = C2A2Pipeline.encode_text

    def counting(self, texts, vectors=None):
        prompts.append(list(texts))
        return original(self, texts, vectors)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(C2A2Pipeline, "encode_text", counting)
        return config, train_c2a2(config), prompts


@pytest.fixture(scope="module")
def batch_of_two_run(tmp_path_factory, base_folder):
    """A 2-step run with batch 2 in one process (prior preservation on): the reference for
    gradient accumulation and for two data-parallel processes."""
    config = _config(tmp_path_factory.mktemp("batch-two"), base_folder, batch_size=2, validate_every=0,
                     checkpoint_every=0)
    return config, train_c2a2(config)


def _faces(folder, n, seed, with_csv=True):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,valence,arousal,z"]
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (80, 72, 3), dtype=np.uint8)).save(folder / f"face{i}.png")
        point = EmotionPoint.of_class(["Happy", "Sad", "Fearful"][i % 3])
        rows.append(f"face{i}.png,{point.valence},{point.arousal},{point.z}")
    if with_csv:
        (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def _config(tmp_path, base_folder, **kwargs):
    data = _faces(tmp_path / "data", 3, seed=1)
    classes = _faces(tmp_path / "classes", 2, seed=2, with_csv=False)
    defaults = dict(
        data_dir=data,
        out_dir=tmp_path / "out",
        base_model=str(base_folder),
        class_images_dir=classes,
        resolution=64,
        max_steps=2,
        learning_rate=1e-3,
        number_encoder_lr=1e-2,
        checkpoint_every=1,
        validate_every=2,
        validation_classes=("Happy",),
        validation_steps=2,
        device="cpu",
        gradient_checkpointing=True,
    )
    defaults.update(kwargs)
    return TrainConfig(**defaults)


def _image(pipeline, point, seed=5):
    request = GenerationRequest(
        [point], [seed], get_preset("fast"), negative_prompt="", height=64, width=64, steps=2
    )
    return np.asarray(pipeline.generate(request)[0])


def test_two_steps_change_weights_and_the_saved_pipeline_reloads_identically(tmp_path, base_folder):
    config = _config(tmp_path, base_folder, checkpoint_every=0)
    pipeline = C2A2Pipeline.from_pretrained(base_folder)
    unet_before = {k: v.clone() for k, v in pipeline.sd.unet.state_dict().items()}
    result = train_c2a2(config, pipeline=pipeline)
    trained = C2A2Pipeline.from_pretrained(config.out_dir, require_number_encoder=True)
    assert result.steps == 2 and len(result.losses) == 2 and all(np.isfinite(result.losses))
    assert result.validation_images and result.validation_images[0].exists()
    changed = [k for k, v in trained.sd.unet.state_dict().items() if not torch.equal(v, unet_before[k])]
    assert len(changed) > 10  # the UNet learnt

    trained.sd.set_progress_bar_config(disable=True)
    happy = EmotionPoint.of_class("Happy")
    np.testing.assert_array_equal(_image(result.pipeline, happy), _image(trained, happy))
    with torch.no_grad():
        a, b = trained.encode_points([happy, EmotionPoint.of_class("Sad")])
    assert not torch.allclose(a, b)


def _unet_and_encoder(folder):
    trained = C2A2Pipeline.from_pretrained(folder, require_number_encoder=True)
    state = {f"unet.{k}": v for k, v in trained.sd.unet.state_dict().items()}
    return state | {f"ne.{k}": v for k, v in trained.number_encoder.state_dict().items()}


def _update_difference(a, b, init):
    """|update_a - update_b| / |update_a| over all trained weights (Adam turns float-rounding
    differences of near-zero gradients into lr-sized steps, so elementwise equality is too strict
    for runs that batch differently; the loss and the overall update must agree)."""
    step_a = torch.cat([(a[k] - init[k]).flatten() for k in init])
    step_b = torch.cat([(b[k] - init[k]).flatten() for k in init])
    return float((step_a - step_b).norm() / step_a.norm())


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, base_folder, two_step_run):
    """Losses and weights after 2 steps are the same whether the run stopped after step 1 or not:
    the checkpoint (Accelerate's save_state, the last one found) restores optimizer moments and
    the RNG that draws images, noise and timesteps."""
    straight, full, _ = two_step_run
    split = _config(tmp_path / "b", base_folder, max_steps=1, validate_every=0, checkpoint_every=1)
    first = train_c2a2(split)
    checkpoint = latest_checkpoint(split.out_dir)
    assert checkpoint is not None and checkpoint.name == "step-000001"
    names = {p.name for p in checkpoint.iterdir()}
    # Accelerate's save_state: both trained modules as safetensors, optimizer, RNG states
    assert {"model.safetensors", "model_1.safetensors", "optimizer.bin", "random_states_0.pkl",
            "trainer_state.json"} <= names
    split.max_steps = 2
    second = train_c2a2(split)
    assert second.resumed_from == 1 and second.steps == 2 and len(second.losses) == 1
    assert first.losses + second.losses == pytest.approx(full.losses, rel=1e-6, abs=0)
    a, b = _unet_and_encoder(straight.out_dir), _unet_and_encoder(split.out_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # without the restored state (the old behaviour: reseeding, fresh moments) it would not match
    fresh = _config(tmp_path / "c", base_folder, max_steps=1, validate_every=0, checkpoint_every=0,
                    base_model=str(split.out_dir))
    assert train_c2a2(fresh).losses[0] != pytest.approx(full.losses[-1], rel=1e-6, abs=0)


def test_gradient_accumulation_matches_one_larger_batch(tmp_path, base_folder, batch_of_two_run,
                                                        initial_weights):
    """Two micro-batches of 1 per step give the same update as one batch of 2 (Accelerate
    divides the loss by the accumulation count), prior preservation loss included."""
    big, a_run = batch_of_two_run
    small = _config(tmp_path / "small", base_folder, batch_size=1, gradient_accumulation_steps=2,
                    validate_every=0, checkpoint_every=0)
    b_run = train_c2a2(small)
    assert b_run.losses == pytest.approx(a_run.losses, rel=1e-5)
    a, b = _unet_and_encoder(big.out_dir), _unet_and_encoder(small.out_dir)
    assert _update_difference(a, b, initial_weights) < 1e-3
    # a different sample order is far off: the test can tell the two apart
    other = _config(tmp_path / "other", base_folder, batch_size=2, validate_every=0, checkpoint_every=0,
                    seed=1)
    train_c2a2(other)
    assert _update_difference(a, _unet_and_encoder(other.out_dir), initial_weights) > 1e-2


class RecordingSD:
    """Wraps a diffusers pipeline: records each sampling call (and the scheduler it ran with)
    and samples for real, but with 2 steps so the test stays fast."""

    def __init__(self, sd):
        object.__setattr__(self, "_sd", sd)
        object.__setattr__(self, "calls", [])

    def __getattr__(self, name):
        return getattr(self._sd, name)

    def __setattr__(self, name, value):
        setattr(self._sd, name, value)

    def __call__(self, **kwargs):
        self.calls.append(dict(kwargs, scheduler=type(self._sd.scheduler).__name__))
        return self._sd(**(kwargs | {"num_inference_steps": 2}))


def _count_encodings(monkeypatch, pipeline):
    prompts = []
    original = pipeline.encode_text

    def counting(texts, vectors=None):
        prompts.append(list(texts))
        return original(texts, vectors)

    monkeypatch.setattr(pipeline, "encode_text", counting)
    return prompts


def test_class_images_use_the_papers_sampler_and_encode_prompts_once(tmp_path, base_folder, monkeypatch):
    """DDIM, eta 0, 100 steps, guidance 10 by default (the DreamBooth reference); fast on request."""
    pipeline = C2A2Pipeline.from_pretrained(base_folder)
    recorder = RecordingSD(pipeline.sd)
    pipeline.sd = recorder
    prompts = _count_encodings(monkeypatch, pipeline)
    config = _config(tmp_path, base_folder, class_images_dir=None, num_class_images=3)
    assert len(prepare_class_images(config, pipeline)) == 3
    sampled = [(c["scheduler"], c["num_inference_steps"], c["eta"], c["guidance_scale"])
               for c in recorder.calls]
    assert sampled == [("DDIMScheduler", 100, 0.0, 10.0)] * 3
    assert len(prompts) == 2  # the class prompt and the empty one, once each for all images
    fast = _config(tmp_path / "fast", base_folder, class_images_dir=None, num_class_images=1,
                   class_image_preset="fast", class_image_steps=7)
    recorder.calls.clear()
    prepare_class_images(fast, pipeline)
    assert recorder.calls[0]["scheduler"] == "DPMSolverMultistepScheduler"
    assert recorder.calls[0]["num_inference_steps"] == 7
    with pytest.raises(InvalidInputError, match="preset"):
        _config(tmp_path, base_folder, class_image_preset="turbo")


def test_class_prompt_is_encoded_once_per_run(two_step_run):
    config, result, prompts = two_step_run
    assert result.steps == 2 and all(np.isfinite(result.losses))
    class_encodings = [p for p in prompts if p and set(p) == {config.class_prompt}]
    assert len(class_encodings) == 1


def test_labels_are_checked_with_line_numbers(tmp_path):
    folder = _faces(tmp_path / "data", 2, seed=3)
    (folder / "bad.csv").write_text("file,valence,arousal,z\nface0.png,0.1,0.2,0\nmissing.png,0,0,0\n")
    with pytest.raises(InvalidInputError, match="line 3.*not found"):
        read_labels(folder, folder / "bad.csv")
    (folder / "nan.csv").write_text("file,valence,arousal,z\nface0.png,nan,0,0\n")
    with pytest.raises(InvalidInputError, match="line 2"):
        read_labels(folder, folder / "nan.csv")
    (folder / "cols.csv").write_text("file,arousal\nface0.png,0\n")
    with pytest.raises(InvalidInputError, match="valence"):
        read_labels(folder, folder / "cols.csv")
    (folder / "escape.csv").write_text("file,valence,arousal,z\n../outside.png,0,0,0\n")
    with pytest.raises(InvalidInputError, match="outside the folder"):
        read_labels(folder, folder / "escape.csv")


def test_cli_trains_with_generated_class_images_and_saves_a_loadable_pipeline(tmp_path, base_folder):
    from emo_app.cli import main
    from emo_app.generation.number_encoder import WEIGHTS_NAME

    data = _faces(tmp_path / "data", 2, seed=4)
    out = tmp_path / "c2a2-sd"
    code = main(
        [
            "train-c2a2",
            "--data",
            str(data),
            "--out",
            str(out),
            "--base",
            str(base_folder),
            "--num-class-images",
            "1",
            "--class-image-steps",
            "2",
            "--resolution",
            "64",
            "--steps",
            "1",
            "--validate-every",
            "0",
            "--checkpoint-every",
            "0",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert len(list((out / "class_images").glob("*.png"))) == 1  # prior images made by the base model
    assert (out / "model_index.json").exists() and (out / WEIGHTS_NAME).exists()
    reloaded = C2A2Pipeline.from_pretrained(out, require_number_encoder=True)
    assert type(reloaded.sd.scheduler).__name__ == "DDIMScheduler"  # sampling did not replace it


def test_cli_generate_says_a_gpu_is_needed(monkeypatch, capsys):
    from emo_app.cli import main
    from emo_app.generation import api

    monkeypatch.setattr(api, "gpu_available", lambda: False)
    assert main(["generate-c2a2", "--class", "happily-surprised", "--mode", "prompt"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, base_folder, batch_of_two_run,
                                                           initial_weights):
    """`accelerate launch` with 2 CPU processes (gloo DDP), batch 1 each, trains the same weights
    as one process with batch 2. Accelerate's --cpu launcher starts a single process, so the test
    launches its multi-process launcher (torchrun) and the trainer's --device cpu keeps it on CPU."""
    import os
    import subprocess
    import sys

    one, single = batch_of_two_run
    two_out = tmp_path / "two"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()), "-m", "emo_app", "train-c2a2",
        "--data", str(one.data_dir), "--class-images", str(one.class_images_dir), "--out", str(two_out),
        "--base", str(base_folder), "--resolution", "64", "--batch-size", "1", "--steps", "2",
        "--lr", "1e-3", "--number-encoder-lr", "1e-2", "--validate-every", "0", "--checkpoint-every", "0",
        "--device", "cpu",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["steps"] == 2
    assert report["final_loss"] == pytest.approx(single.losses[-1], rel=1e-5)
    a, b = _unet_and_encoder(one.out_dir), _unet_and_encoder(two_out)
    assert _update_difference(a, b, initial_weights) < 1e-3


@pytest.mark.parametrize("search", [True, False])
def test_the_loop_runs_with_cudnn_search_and_a_frozen_heap_then_puts_both_back(
    tmp_path, base_folder, monkeypatch, search
):
    """The convolutions' shapes never change during a run, so cuDNN times its algorithms once
    (unless ``cudnn_benchmark=False``); the loaded models' Python objects are frozen out of the
    garbage collector's full scans during the steps. Both come back as they were afterwards."""
    import gc

    import emo_app.generation.train as train_module

    seen = []
    original = train_module._optimizer_step
    monkeypatch.setattr(train_module, "_optimizer_step", lambda run: seen.append(
        (torch.backends.cudnn.benchmark, gc.get_freeze_count())) or original(run))
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", not search)
    config = _config(tmp_path, base_folder, max_steps=1, validate_every=0, checkpoint_every=0,
                     prior_loss_weight=0.0, cudnn_benchmark=search)
    assert gc.get_freeze_count() == 0
    train_c2a2(config)
    assert len(seen) == 1 and seen[0][0] is search and seen[0][1] > 100_000
    assert torch.backends.cudnn.benchmark is (not search) and gc.get_freeze_count() == 0
