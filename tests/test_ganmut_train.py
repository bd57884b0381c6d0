"""GANmut-3D training at 32 px on synthetic images: the discriminator learns, checkpoints
reproduce outputs and resume exactly, D_coor recovers codes, and the CLI / editing API work."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emo_app.cli import main as cli_main
from emo_app.config import Settings
from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError, MissingWeightsError
from emo_app.ganmut.codes import sample_codes
from emo_app.ganmut.config import GanmutConfig
from emo_app.ganmut.data import Batch, ImageFolderDataset, read_labels
from emo_app.ganmut.edit import edit_photo, estimate_point, ganmut_available
from emo_app.ganmut.models import Discriminator
from emo_app.ganmut.train import GanmutTrainer, TrainOptions, checkpoint_paths, train

TINY = dict(image_size=32, g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, batch_size=4)


def synthetic_batch(n: int = 4, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g) * 2 - 1
    va = torch.rand(n, 2, generator=g) * 2 - 1
    return Batch(images, torch.arange(n) % 7, va, torch.ones(n, dtype=torch.bool),
                 torch.rand(n, generator=g) - 0.5, torch.ones(n, dtype=torch.bool))


def d_loss(trainer: GanmutTrainer, batch: Batch) -> float:
    """L_D on a fixed batch with fixed codes and a fixed GP mixing draw."""
    codes = sample_codes(trainer.directions().detach(), batch.images.size(0), trainer.config,
                         torch.Generator().manual_seed(99))
    return float(trainer.discriminator_loss(batch, codes, torch.Generator().manual_seed(7)).total.detach())


def test_three_steps_lower_the_discriminator_loss():
    trainer = GanmutTrainer(GanmutConfig(**TINY))  # GANmut's lr 1e-4, 5 D steps per G step
    batch = synthetic_batch()
    before = d_loss(trainer, batch)
    g_before = [p.clone() for p in trainer.G.parameters()]
    for _ in range(3):
        logs = trainer.train_step(batch)
        assert all(np.isfinite(v) for v in logs.values())
    after = d_loss(trainer, batch)
    assert after < before
    assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters(), strict=True))
    assert trainer.step == 3


def test_generator_step_every_n_critic_steps():
    trainer = GanmutTrainer(GanmutConfig(**(TINY | {"n_critic": 2})))
    batch = synthetic_batch()
    dirs_before = trainer.directions.raw.detach().clone()
    first = trainer.train_step(batch)
    second = trainer.train_step(batch)
    assert "G/total" not in first and "G/total" in second
    assert not torch.equal(dirs_before, trainer.directions.raw.detach())  # directions are learned


def test_save_and_reload_give_identical_outputs(tmp_path):
    trainer = GanmutTrainer(GanmutConfig(**TINY))
    batch = synthetic_batch()
    for _ in range(3):
        trainer.train_step(batch)
    weights = trainer.save(tmp_path)
    assert weights.name == "ganmut-c2a2.safetensors"
    _, config_json, training = checkpoint_paths(tmp_path)
    assert json.loads(config_json.read_text())["step"] == 3
    # Accelerate's save_state: the modules as safetensors, both optimisers, the RNG states
    assert {"model.safetensors", "optimizer.bin", "optimizer_1.bin", "random_states_0.pkl"} <= {
        p.name for p in training.iterdir()}
    codes = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.5, 0.87], [-0.4, -0.2, -0.87], [1.0, 0.0, 0.0]])
    reloaded = GanmutTrainer.from_checkpoint(tmp_path)
    assert reloaded.step == 3
    assert torch.equal(trainer.translate(batch.images, codes), reloaded.translate(batch.images, codes))
    assert torch.equal(trainer.coordinates(batch.images), reloaded.coordinates(batch.images))
    assert torch.equal(trainer.directions(), reloaded.directions())
    # A lone weights file (as resolve("ganmut-c2a2") finds it) carries its config in metadata.
    lone = tmp_path / "lone" / "model.safetensors"
    lone.parent.mkdir()
    lone.write_bytes(weights.read_bytes())
    alone = GanmutTrainer.from_checkpoint(lone)
    assert torch.equal(trainer.translate(batch.images, codes), alone.translate(batch.images, codes))


def test_resume_continues_exactly(tmp_path):
    config = GanmutConfig(**(TINY | {"n_critic": 2}))
    pool = [synthetic_batch(seed=s) for s in range(3)]

    def run(trainer, steps):
        for _ in range(steps):
            trainer.train_step(pool[trainer.random_indices(len(pool), 1)[0]])

    straight = GanmutTrainer(config)
    run(straight, 5)
    first = GanmutTrainer(config)
    run(first, 3)
    first.save(tmp_path)
    run(first, 2)  # the RNG moves on: the resumed run must rewind it to step 3
    resumed = GanmutTrainer.from_checkpoint(tmp_path)
    assert resumed.step == 3
    run(resumed, 2)
    for a, b in zip(straight.model_state().values(), resumed.model_state().values(), strict=True):
        assert torch.equal(a, b)
    # the weights alone (fresh Adam moments, no RNG state) would not continue the same way
    bare = GanmutTrainer.from_checkpoint(tmp_path, with_training_state=False)
    assert bare.accelerator is None
    restarted = GanmutTrainer(config)
    restarted.load_model_state(bare.model_state())
    run(restarted, 2)
    assert not all(torch.equal(a, b) for a, b in zip(straight.model_state().values(),
                                                      restarted.model_state().values(), strict=True))


def test_code_regressor_recovers_known_codes():
    """Toy problem: the image's colour and a stripe pattern encode a 3D code; D_coor, trained
    alone with the info loss, must recover unseen codes far better than chance."""
    torch.manual_seed(0)
    config = GanmutConfig(**(TINY | {"image_size": 16}))
    D = Discriminator(config)
    opt = torch.optim.Adam(D.parameters(), 1e-3)
    g = torch.Generator().manual_seed(0)
    stripes = torch.sin(torch.arange(16).float())[None, None, :, None].expand(1, 1, 16, 16)

    def toy(n):
        codes = torch.rand(n, 3, generator=g) * 2 - 1
        colour = codes[:, :, None, None] * 0.6
        pattern = 0.3 * codes[:, 2, None, None, None] * stripes
        return (colour + pattern).clamp(-1, 1) + 0.05 * torch.randn(n, 3, 16, 16, generator=g), codes

    for _ in range(120):
        x, codes = toy(16)
        loss = ((D(x).coor - codes) ** 2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, codes = toy(64)
    with torch.no_grad():
        error = ((D(x).coor - codes) ** 2).sum(1).mean().item()
    chance = ((codes - codes.mean(0)) ** 2).sum(1).mean().item()  # best constant guess
    assert error < 0.1 * chance


def write_dataset(root: Path, n: int = 8) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    folder = root / "faces"
    folder.mkdir()
    rows = []
    for i in range(n):
        image = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"img{i}.png")
        rows.append([f"img{i}.png", i % 8, f"{rng.uniform(-1, 1):.3f}", "-2" if i == 1 else "0.1"])
    labels = root / "labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "class", "valence", "arousal"])
        writer.writerows(rows)
    return folder, labels


def test_labels_reader_skips_unused_classes_and_masks_missing_values(tmp_path):
    folder, labels = write_dataset(tmp_path)
    rows = read_labels(labels)
    assert len(rows) == 7  # class 7 (Contempt) is skipped
    data = ImageFolderDataset(folder, labels, 32)
    batch = data.batch([0, 1])
    assert batch.images.shape == (2, 3, 32, 32)
    assert batch.va_mask.tolist() == [True, False]  # AffectNet's -2 means "no annotation"
    assert not batch.z_mask.any()
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\nimg0.png,1\n")
    with pytest.raises(InvalidInputError, match="file,class,valence,arousal"):
        read_labels(bad)


def test_train_cli_resumes_and_exports_labels_and_edits(tmp_path):
    folder, labels = write_dataset(tmp_path)
    out = tmp_path / "run"
    args = ["train-ganmut", "--data", str(folder), "--labels", str(labels), "--out", str(out),
            "--image-size", "32", "--g-conv-dim", "8", "--d-conv-dim", "8", "--g-repeat-num", "1",
            "--batch-size", "4", "--au", "none", "--device", "cpu", "--save-every", "3",
            "--sample-every", "3"]
    assert cli_main(args + ["--steps", "3"]) == 0
    assert json.loads((out / "ganmut-c2a2.json").read_text())["step"] == 3
    grid = np.asarray(Image.open(out / "samples" / "step_000003.png"))
    assert grid.shape == (7 * 32, 8 * 32, 3)  # 7 input rows x (input, neutral, 6 classes)
    assert cli_main(args + ["--steps", "4"]) == 0
    assert json.loads((out / "ganmut-c2a2.json").read_text())["step"] == 4

    csv_path = tmp_path / "pseudo.csv"
    assert cli_main(["ganmut-labels", "--checkpoint", str(out), "--data", str(folder),
                     "--out", str(csv_path), "--device", "cpu"]) == 0
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["file"] for r in rows] == [f"img{i}.png" for i in range(8)]
    assert set(rows[0]) == {"file", "valence", "arousal", "z"}
    trainer = GanmutTrainer.from_checkpoint(out)
    first = trainer.coordinates(ImageFolderDataset(folder, labels, 32).batch([0]).images)[0]
    assert float(rows[0]["z"]) == pytest.approx(float(first[2]), abs=1e-4)

    edited = tmp_path / "edited.png"
    assert cli_main(["ganmut-edit", "--checkpoint", str(out), "--image", str(folder / "img0.png"),
                     "--point=-0.09,0.49,0.87", "--out", str(edited)]) == 0
    assert np.asarray(Image.open(edited)).shape == (32, 32, 3)
    assert cli_main(["ganmut-edit", "--checkpoint", str(out), "--image", str(folder / "img0.png"),
                     "--point", "1,2", "--out", str(edited)]) == 2


def test_pseudo_labels_keep_the_annotated_valence_arousal_and_add_z(tmp_path):
    """The paper recovers pseudo-labels along Z only: annotated images keep their valence and
    arousal; D_coor supplies Z, and valence/arousal only where no annotation exists."""
    folder, labels = write_dataset(tmp_path)
    trainer = GanmutTrainer(GanmutConfig(**TINY))
    trainer.save(tmp_path / "run")
    csv_path = tmp_path / "pseudo.csv"
    assert cli_main(["ganmut-labels", "--checkpoint", str(tmp_path / "run"), "--data", str(folder),
                     "--labels", str(labels), "--out", str(csv_path), "--device", "cpu"]) == 0
    with csv_path.open() as handle:
        rows = {r["file"]: r for r in csv.DictReader(handle)}
    annotated = {r.file: r for r in read_labels(labels)}
    images = torch.stack([ImageFolderDataset(folder, labels, 32).batch([i]).images[0] for i in range(7)])
    coords = trainer.coordinates(images)
    for index, row in enumerate(read_labels(labels)):
        out = rows[row.file]
        assert float(out["z"]) == pytest.approx(float(coords[index, 2]), abs=1e-4)
        if np.isfinite(row.arousal):  # annotated: kept as the annotator gave it
            assert (float(out["valence"]), float(out["arousal"])) == pytest.approx(
                (annotated[row.file].valence, annotated[row.file].arousal), abs=1e-5)
        else:  # img1 (AffectNet's -2): estimated
            assert float(out["arousal"]) == pytest.approx(float(coords[index, 1]), abs=1e-4)
    assert float(rows["img0.png"]["arousal"]) == pytest.approx(0.1)


def test_edit_photo_and_availability(tmp_path):
    trainer = GanmutTrainer(GanmutConfig(**TINY))
    trainer.train_step(synthetic_batch())
    settings = Settings(weights_dir=tmp_path / "weights")
    assert not ganmut_available(settings)
    with pytest.raises(MissingWeightsError):
        edit_photo(np.zeros((40, 40, 3), np.uint8), EmotionPoint(0, 0, 0), settings=settings)
    trainer.save(tmp_path / "weights" / "ganmut-c2a2.safetensors")
    assert ganmut_available(settings)
    photo = (np.random.default_rng(1).random((50, 60, 3)) * 255).astype(np.uint8)
    fearful = edit_photo(photo, EmotionPoint(-0.09, 0.49, 0.87), settings=settings)
    sad = edit_photo(photo, EmotionPoint(-0.46, -0.2, -0.87), settings=settings)
    assert fearful.shape == (32, 32, 3) and fearful.dtype == np.uint8
    assert np.abs(fearful.astype(int) - sad.astype(int)).sum() > 0  # Z changes the output
    lone_file = tmp_path / "weights" / "ganmut-c2a2.safetensors"
    again = edit_photo(photo, EmotionPoint(-0.09, 0.49, 0.87), lone_file)
    assert np.array_equal(fearful, again)
    point = estimate_point(photo, settings=settings)
    assert isinstance(point, EmotionPoint)
    with pytest.raises(InvalidInputError):
        edit_photo(None, EmotionPoint(0, 0, 0), settings=settings)


def test_action_unit_z_targets_are_cached_for_training(tmp_path):
    folder, labels = write_dataset(tmp_path)
    seen = []

    def fake_estimator(image):  # bright images "look fearful", others have no face
        seen.append(image.shape)
        return {5: 1.0, 20: 1.0, 2: 1.0} if image.mean() > 127.4 else None

    out = tmp_path / "run"
    options = TrainOptions(steps=1, au_estimator=fake_estimator, device="cpu")
    train(folder, labels, out, GanmutConfig(**TINY), options, progress=False)
    with (out / "au_z.csv").open() as handle:
        cached = {r["file"]: float(r["z"]) for r in csv.DictReader(handle)}
    assert len(cached) == 7 and len(seen) == 7
    assert any(v > 0.5 for v in cached.values()) and any(np.isnan(v) for v in cached.values())
    train(folder, labels, out, GanmutConfig(**TINY), TrainOptions(steps=2, au_estimator=fake_estimator,
                                                                 device="cpu"), progress=False)
    assert len(seen) == 7  # the resumed run reused the cache


def test_mediapipe_estimator_finds_no_face_in_noise():
    from emo_app.ganmut.au import MediaPipeAUEstimator

    estimator = MediaPipeAUEstimator()
    noise = (np.random.default_rng(0).random((192, 192, 3)) * 255).astype(np.uint8)
    try:
        assert estimator(noise) is None
    except MissingWeightsError:
        pytest.skip("face_landmarker.task is not installed")
    finally:
        estimator.close()


LAUNCHED = """
import sys
from emo_app.ganmut.config import GanmutConfig
from emo_app.ganmut.train import TrainOptions, export_pseudo_labels, train
folder, labels, out, csv_path = sys.argv[1:5]
config = GanmutConfig(image_size=32, g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, batch_size=2, n_critic=1)
train(folder, labels, out, config, TrainOptions(steps=2, save_every=2, sample_every=2, au_estimator="none",
                                                 device="cpu"), progress=False)
export_pseudo_labels(out, folder, csv_path, batch_size=3, device="cpu", progress=False)
from pathlib import Path
from accelerate import PartialState
from emo_app.models.training import end_process_group
state = PartialState()
Path(sys.argv[-1] + f".rank{state.process_index}").write_text(str(state.num_processes))
end_process_group()  # as the CLI does when a command returns
"""


@pytest.mark.slow
def test_two_processes_train_and_pseudo_label_a_shard_each(tmp_path):
    """`accelerate launch` with 2 CPU processes: GANmut trains data parallel (each process saves
    its RNG state) and the pseudo-labels of the 8 images, 4 per process, gathered on the main
    process, are the rows one process writes from the same checkpoint, in the same order."""
    import os
    import socket
    import subprocess
    import sys

    folder, labels = write_dataset(tmp_path)
    script = tmp_path / "launched.py"
    script.write_text(LAUNCHED)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, two_csv = tmp_path / "run", tmp_path / "two.csv"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(port), str(script), str(folder), str(labels), str(out),
               str(two_csv)]
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = sorted(tmp_path.glob("two.csv.rank*"))  # each process wrote its group's size
    assert [r.read_text() for r in ranks] == ["2", "2"]
    _, config_json, training = checkpoint_paths(out)
    assert json.loads(config_json.read_text())["step"] == 2
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= {p.name for p in training.iterdir()}
    one_csv = tmp_path / "one.csv"
    assert cli_main(["ganmut-labels", "--checkpoint", str(out), "--data", str(folder),
                     "--out", str(one_csv), "--device", "cpu"]) == 0
    with two_csv.open() as a, one_csv.open() as b:
        two, one = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["file"] for r in two] == [r["file"] for r in one] == [f"img{i}.png" for i in range(8)]
    for x, y in zip(two, one, strict=True):
        assert [float(x[k]) for k in ("valence", "arousal", "z")] == pytest.approx(
            [float(y[k]) for k in ("valence", "arousal", "z")], abs=2e-5)
