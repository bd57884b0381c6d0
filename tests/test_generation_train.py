"""DreamBooth + NumberEncoder training on a tiny random SD pipeline at 64 px: two steps change
the weights, the saved folder reloads to identical images, checkpoints resume, bad labels fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError
from emo_app.generation.pipeline import C2A2Pipeline, GenerationRequest
from emo_app.generation.random_pipeline import build_random_sd_pipeline, clip_tokenizer
from emo_app.generation.schedulers import get_preset
from emo_app.generation.train import TrainConfig, latest_checkpoint, read_labels, train_c2a2


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    """A plain (vanilla-SD-like) pipeline folder, as `--base` would name."""
    folder = tmp_path_factory.mktemp("base") / "sd"
    build_random_sd_pipeline(
        seed=0, tokenizer=clip_tokenizer(tmp_path_factory.mktemp("vocab"))
    ).save_pretrained(str(folder), safe_serialization=True)
    return folder


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


def test_training_resumes_from_the_last_checkpoint(tmp_path, base_folder):
    config = _config(tmp_path, base_folder, max_steps=1, validate_every=0, prior_loss_weight=0.0)
    train_c2a2(config)
    checkpoint = latest_checkpoint(config.out_dir)
    assert checkpoint is not None and checkpoint.name == "step-000001"
    assert {p.name for p in checkpoint.iterdir()} >= {
        "unet.safetensors",
        "optimizer.safetensors",
        "number_encoder.safetensors",
        "trainer_state.json",
    }
    config.max_steps = 2
    resumed = train_c2a2(config)
    assert resumed.resumed_from == 1 and resumed.steps == 2 and len(resumed.losses) == 1


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
