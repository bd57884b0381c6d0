"""The Emo3D baselines: data in the published schema, training (loss falls), checkpoints that
reload to identical outputs and resume (exactly, on Accelerate; also as two data-parallel
processes), and the authors' released checkpoints loading strictly. Every encoder here is a
tiny random model built in the test: nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from emo_app.blendshapes.schema import MEDIAPIPE_NAMES
from emo_app.errors import InvalidInputError
from emo_app.text import baselines as bl
from emo_app.text.data import COLUMNS, load_samples, read_emo3d, write_emo3d_csv
from emo_app.text.train import TrainConfig, evaluation_report, load_module, train

OFFICIAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "emo3d_official"
EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
WORDS = {
    "happiness": "happy joyful smiling",
    "sadness": "sad tearful gloomy",
    "anger": "angry furious glaring",
    "surprise": "surprised astonished amazed",
    "fear": "afraid scared terrified",
    "disgust": "disgusted revolted",
}


def _scores(rng: np.random.Generator, emotion_index: int) -> str:
    values = np.zeros(52)
    values[1 + (emotion_index * 7) % 51 : 1 + (emotion_index * 7) % 51 + 5] = 0.8
    values[1:] += rng.uniform(0, 0.05, 51)
    values[MEDIAPIPE_NAMES.index("browDownLeft")] = 0.6 if emotion_index % 2 else 0.1
    return np.array2string(np.round(values, 3), precision=3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i, (emotion, words) in enumerate(WORDS.items()):
        w = words.split()
        row = {
            "sample_id": i,
            "prompt_type": "basic",
            "text_1": f"a {w[0]} face",
            "text_2": f"the left side looks {w[1]}",
            "text_3": f"someone {w[-1]}",
        }
        row.update({e: 0.0 for e in EMOTIONS})
        row[emotion] = 0.9
        row["neutral"] = 0.1
        k = EMOTIONS.index(emotion)
        row.update(
            {
                "img_1": f"images/{i}_1.png",
                "blenshape_score_1": _scores(rng, k),
                "img_2": "",
                "blenshape_score_2": "",
                "img_3": f"images/{i}_3.png",
                "blenshape_score_3": _scores(rng, k),
                "img_4": "",
                "blenshape_score_4": "",
            }
        )
        rows.append(row)
    folder = tmp_path_factory.mktemp("emo3d") / "data"
    folder.mkdir()
    write_emo3d_csv(folder / "train_data.csv", rows)
    return folder.parent


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "a",
        "the",
        "face",
        "someone",
        "side",
        "looks",
        "left",
        "right",
    ] + sorted({w for words in WORDS.values() for w in words.split()})
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    return str(folder)


def test_reader_pairs_every_text_with_every_valid_score(dataset):
    rows = read_emo3d(dataset, "train")
    assert set(COLUMNS) <= set(rows[0]) and len(COLUMNS) == 21
    samples = load_samples(dataset, "train")
    assert len(samples) == len(WORDS) * 3 * 2  # 3 paraphrases x 2 non-empty scores
    first = samples[0]
    assert first.shapes.shape == (51,) and first.emotions.shape == (8,)
    assert first.emotions[EMOTIONS.index("happiness")] == pytest.approx(0.9)
    mirrored = load_samples(dataset, "train", mirror=True)
    assert len(mirrored) == 2 * len(samples)
    pair = next(s for s in mirrored if s.mirrored and "right side" in s.text)
    original = next(
        s for s in samples if s.text == pair.text.replace("right", "left") and s.image == pair.image
    )
    left, right = MEDIAPIPE_NAMES.index("browDownLeft") - 1, MEDIAPIPE_NAMES.index("browDownRight") - 1
    assert pair.shapes[right] == original.shapes[left]


def test_reader_rejects_a_file_in_another_schema(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,score\nhello,1\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="schema"):
        read_emo3d(bad)


def _loss_falls(state: dict) -> None:
    losses = state["epoch_losses"]
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("kind", ["lm-mlp", "emotion-xlm"])
def test_language_model_baselines_train_and_reload(kind, dataset, tiny_encoder, tmp_path):
    samples = load_samples(dataset, "train")
    config = TrainConfig(kind=kind, encoder=tiny_encoder, epochs=4, batch_size=8, lr=3e-3, mirror=False)
    state = train(config, samples, tmp_path / "ckpt", progress=False, device="cpu")
    _loss_falls(state)
    module, saved, _ = load_module(tmp_path / "ckpt")
    assert saved.kind == kind
    from emo_app.text.checkpoints import CheckpointTextModel

    reloaded = CheckpointTextModel(tmp_path / "ckpt", emotion_source=_FixedEmotions())
    again = CheckpointTextModel(tmp_path / "ckpt", emotion_source=_FixedEmotions())
    texts = ["a happy face", "someone terrified"]
    a, b = reloaded.predict_batch(texts), again.predict_batch(texts)
    for x, y in zip(a, b):
        assert x.shapes == y.shapes
    assert not np.allclose(a[0].shapes.values, a[1].shapes.values)
    report = evaluation_report(
        np.stack([p.shapes.to_emo3d() for p in reloaded.predict_batch([s.text for s in samples])]), samples
    )
    assert report["mse"] < 0.1 and set(report["per_region"]) >= {"brows", "mouth"}
    assert "happiness" in report["per_emotion"]


class _FixedEmotions:
    """Stands in for the embedded analyser so these tests do not load MiniLM."""

    def analyse_emotions(self, texts):
        from emo_app.emotion.emotions import EmotionIntensities

        return [EmotionIntensities([1, 0, 0, 0, 0, 0, 0, 0]) for _ in texts]


def test_emotion_xlm_uses_teacher_forcing_and_the_784_layout():
    class Fake(torch.nn.Module):
        hidden_size = 768

        def forward(self, texts):
            return torch.ones(len(texts), 768)

    model = bl.EmotionXLM(Fake())
    assert model.head.network[0].in_features == 784
    teacher = torch.zeros(2, 8)
    teacher[:, 3] = 1.0
    forced, _ = model(["a", "b"], teacher, torch.tensor([True, True]))
    free, _ = model(["a", "b"], teacher, torch.tensor([False, False]))
    assert not torch.allclose(forced, free)


@pytest.mark.parametrize("kind", ["clip-mlp", "vae-clip"])
def test_clip_baselines_train_resume_and_reload(kind, dataset, tiny_clip, tmp_path):
    samples = load_samples(dataset, "train")
    config = TrainConfig(kind=kind, epochs=3, batch_size=8, lr=1e-2, mirror=True)
    state = train(config, samples, tmp_path / "ckpt", clip_encoder=tiny_clip, progress=False, device="cpu")
    _loss_falls(state)
    more = TrainConfig(kind=kind, epochs=4, batch_size=8, lr=1e-2)
    resumed = train(more, samples, tmp_path / "ckpt", clip_encoder=tiny_clip, progress=False, device="cpu")
    assert resumed["epoch"] == 4 and resumed["epoch_losses"][:3] == state["epoch_losses"]
    from emo_app.text.checkpoints import CheckpointTextModel

    one = CheckpointTextModel(tmp_path / "ckpt", clip_encoder=tiny_clip, emotion_source=_FixedEmotions())
    two = CheckpointTextModel(tmp_path / "ckpt", clip_encoder=tiny_clip, emotion_source=_FixedEmotions())
    x, y = one.predict("a happy face"), two.predict("a happy face")
    assert x.shapes == y.shapes
    assert any("no emotion head" in note for note in x.notes)


def test_vae_kl_term_is_optional():
    torch.manual_seed(0)
    model = bl.VAEClip(latent=16)
    target = torch.rand(4, 51)
    out = model(target)
    text = torch.randn(4, 16)
    plain = bl.vae_clip_loss(out, target, text, None)
    with_kl = bl.vae_clip_loss(out, target, text, None, kl_weight=1.0)
    assert with_kl > plain


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason="../shared/data/emo3d_official is not on this machine")
def test_official_checkpoints_load_strictly():
    from emo_app.models import load_state_dict

    head = bl.Emo3DHead(512)
    head.load_state_dict(load_state_dict(OFFICIAL / "CLIP_Baseline.pth"), strict=True)
    vae = bl.VAEClip()
    vae.load_state_dict(load_state_dict(OFFICIAL / "VAE_CLIP.pt"), strict=True)
    embedding = torch.nn.functional.normalize(torch.randn(2, 512), dim=-1)
    with torch.inference_mode():
        assert head(embedding).shape == (2, 51)
        assert vae.eval().decode(embedding).shape == (2, 51)


@pytest.fixture(scope="module")
def clip_512():
    """A tiny random CLIP whose embeddings have the 512 dimensions the released heads take."""
    from conftest import tiny_clip_encoder

    return tiny_clip_encoder(512, seed=1, model_id="tiny-512")


@pytest.mark.parametrize(
    ("name", "file", "first_layer"),
    [
        ("emo3d-clip-baseline", "CLIP_Baseline.pth", "network.0"),
        ("emo3d-vae-clip", "VAE_CLIP.pt", "decoder.0"),
    ],
)
def test_official_heads_receive_raw_clip_features(name, file, first_layer, clip_512, tmp_path):
    """The released heads were trained on raw encode_text output; a unit vector collapses them."""
    from emo_app.config import Settings
    from emo_app.text.checkpoints import OfficialEmo3DModel

    torch.manual_seed(0)
    module = bl.Emo3DHead(512) if name == "emo3d-clip-baseline" else bl.VAEClip()
    torch.save(module.state_dict(), tmp_path / file)
    settings = Settings(weights_dir=tmp_path, offline=True)
    model = OfficialEmo3DModel(name, settings, clip_encoder=clip_512, emotion_source=_FixedEmotions())
    seen = []
    model.module.get_submodule(first_layer).register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    model.predict("a joyful smile")
    raw = clip_512.encode_texts(["a joyful smile"], normalise=False)
    assert abs(float(np.linalg.norm(raw)) - 1.0) > 0.1  # the raw vector is not unit length
    np.testing.assert_allclose(seen[0].numpy(), raw, rtol=1e-5, atol=1e-6)


def test_official_checkpoints_are_fetched_from_the_models_folder():
    from emo_app.models.registry import get_spec

    for name, file in (("emo3d-clip-baseline", "CLIP_Baseline.pth"), ("emo3d-vae-clip", "VAE_CLIP.pt")):
        url = get_spec(name).url
        assert url.startswith("https://github.com/MahshidDehghani/Emo3D/raw/")
        assert url.endswith(f"/Emo3D/models/{file}")


def test_official_models_are_listed_and_fail_clearly_without_clip(tmp_path, monkeypatch):
    from emo_app.config import Settings
    from emo_app.errors import MissingWeightsError
    from emo_app.text import list_text_models
    from emo_app.text.checkpoints import OfficialEmo3DModel

    monkeypatch.setenv("EMO_OFFLINE", "1")
    settings = Settings(weights_dir=tmp_path, offline=True)
    rows = {row["name"]: row for row in list_text_models(settings)}
    assert rows["embedded"]["available"]
    assert not rows["emo3d-clip-baseline"]["available"] and rows["emo3d-clip-baseline"]["reason"]
    with pytest.raises(MissingWeightsError, match="CLIP_Baseline.pth"):
        OfficialEmo3DModel("emo3d-clip-baseline", settings, emotion_source=_FixedEmotions())


def test_the_published_parquet_reads_like_the_csv_splits(dataset, tmp_path):
    """The Hub's parquet holds the same 21 columns with typed emotions and null scores."""
    import pandas as pd

    from emo_app.text.data import SCORE_COLUMNS

    frame = pd.DataFrame(read_emo3d(dataset, "train"))
    for emotion in EMOTIONS:
        frame[emotion] = frame[emotion].astype(float)
    for column in SCORE_COLUMNS:
        frame[column] = frame[column].replace("", None)
    frame["sample_id"] = frame["sample_id"].astype(int)
    parquet = tmp_path / "emo3d_data.parquet"
    frame.to_parquet(parquet)
    from_parquet = load_samples(parquet)
    from_csv = load_samples(dataset, "train")
    assert [s.text for s in from_parquet] == [s.text for s in from_csv]
    assert all(np.array_equal(a.shapes, b.shapes) and np.allclose(a.emotions, b.emotions)
               for a, b in zip(from_parquet, from_csv))


def test_clip_mlp_trains_on_image_embeddings_too(dataset, tiny_clip, tmp_path):
    from PIL import Image

    samples = load_samples(dataset, "train")
    rng = np.random.default_rng(0)
    root = tmp_path / "images_root"
    for sample in samples:
        target = root / sample.image
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(target)
    config = TrainConfig(kind="clip-mlp", epochs=3, batch_size=8, lr=1e-2, mirror=True,
                         use_images=True, image_root=str(root))
    state = train(config, samples, tmp_path / "ckpt", clip_encoder=tiny_clip, progress=False, device="cpu")
    _loss_falls(state)
    (root / samples[0].image).unlink()
    with pytest.raises(InvalidInputError, match=samples[0].image):
        train(config, samples, tmp_path / "ckpt2", clip_encoder=tiny_clip, progress=False, device="cpu")


@pytest.fixture(scope="module")
def paper_weights(tmp_path_factory, tiny_encoder) -> Path:
    """A weights folder where the paper's encoders 'resolve' (tiny random BERTs by those names)."""
    import shutil

    weights = tmp_path_factory.mktemp("weights")
    for name in ("bert-base-uncased", "xlm-roberta-base"):
        shutil.copytree(tiny_encoder, weights / name)
    return weights


def test_the_paper_encoder_is_chosen_when_it_resolves_else_minilm(paper_weights, tmp_path):
    from emo_app.config import Settings
    from emo_app.text.train import choose_encoder

    found = Settings(weights_dir=paper_weights, offline=True)
    assert choose_encoder("lm-mlp", found)[0] == "bert-base-uncased"
    assert choose_encoder("emotion-xlm", found)[0] == "xlm-roberta-base"
    encoder, why = choose_encoder("lm-mlp", Settings(weights_dir=tmp_path, offline=True))
    assert encoder == "minilm" and "bert-base-uncased" in why and "falling back" in why


def test_default_training_fine_tunes_the_papers_encoder(dataset, paper_weights, tmp_path):
    from emo_app.config import Settings
    from emo_app.models import load_state_dict

    settings = Settings(weights_dir=paper_weights, offline=True)
    config = TrainConfig(kind="lm-mlp", epochs=1, batch_size=8, lr=1e-3, mirror=False)
    assert TrainConfig().epochs == 50 and config.train_encoder
    train(config, load_samples(dataset, "train"), tmp_path / "ckpt", settings=settings, progress=False,
          device="cpu")
    module, saved, _ = load_module(tmp_path / "ckpt", settings)
    assert saved.train_encoder and (tmp_path / "ckpt" / "encoder").is_dir()
    before = load_state_dict(paper_weights / "bert-base-uncased" / "model.safetensors")
    after = module.encoder.model.state_dict()
    key = next(k for k in before if k.endswith("embeddings.word_embeddings.weight"))
    assert not torch.equal(before[key], after[key.removeprefix("bert.")])


def _dataset_with_images(dataset: Path, root: Path) -> Path:
    """A copy of the dataset with every published image path present next to the data."""
    from PIL import Image

    (root / "data").mkdir(parents=True)
    data = root / "data" / "train_data.csv"
    data.write_bytes((dataset / "data" / "train_data.csv").read_bytes())
    rng = np.random.default_rng(0)
    for sample in load_samples(data):
        target = root / sample.image
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(target)
    return data


def test_train_cli_defaults_follow_the_paper_and_print_the_choices(
    dataset, paper_weights, tmp_path, monkeypatch, capsys
):
    import emo_app.text.train as train_module
    from emo_app.cli import main

    seen = []
    monkeypatch.setattr(train_module, "train", lambda config, samples, out, **_: seen.append(config) or {})
    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(paper_weights))
    monkeypatch.setenv("EMO_OFFLINE", "1")
    common = ["--data", str(dataset), "--out", str(tmp_path / "out")]
    weights = ["--shape-weight", "2", "--emotion-weight", "0.1"]
    assert main(["train", "--model", "emotion-xlm", *common, *weights]) == 0
    xlm = seen[-1]
    assert (xlm.encoder, xlm.epochs, xlm.train_encoder) == ("xlm-roberta-base", 50, True)
    assert (xlm.shape_weight, xlm.emotion_weight) == (2.0, 0.1)
    assert "xlm-roberta-base" in capsys.readouterr().out

    data = _dataset_with_images(dataset, tmp_path / "with-images")
    assert main(["train", "--model", "clip-mlp", "--data", str(data), "--out", str(tmp_path / "c")]) == 0
    assert seen[-1].use_images and Path(seen[-1].image_root) == tmp_path / "with-images"
    assert "image embeddings" in capsys.readouterr().out
    assert main(["train", "--model", "clip-mlp", *common]) == 0  # the fixture has no images
    assert not seen[-1].use_images and "text only" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "mirrored"),
    [
        ("She left the room, smiling.", "She left the room, smiling."),
        ("Her left eyebrow is raised.", "Her right eyebrow is raised."),
        ("LEFT EYE closed", "RIGHT EYE closed"),
        ("Right cheek puffed, left corner of the mouth", "Left cheek puffed, right corner of the mouth"),
        ("He glances to the right.", "He glances to the left."),
        ("She looks left, then smiles.", "She looks right, then smiles."),
        ("That is the right answer, right now.", "That is the right answer, right now."),
        ("They have left; her left and right eyes wet.", "They have left; her right and left eyes wet."),
    ],
)
def test_mirror_swaps_only_directions_and_keeps_case(text, mirrored):
    from emo_app.text.data import Emo3DSample, mirror_sample

    sample = Emo3DSample(text, np.zeros(8, np.float32), np.zeros(51, np.float32))
    assert mirror_sample(sample).text == mirrored


def test_mirror_augmentation_is_applied_once(dataset, tiny_clip, tmp_path):
    once = load_samples(dataset, "train", mirror=True)
    config = TrainConfig(kind="clip-mlp", epochs=1, batch_size=1, lr=1e-3, mirror=True)
    state = train(config, once, tmp_path / "ckpt", clip_encoder=tiny_clip, progress=False, device="cpu")
    assert state["step"] == len(once) == 2 * len(load_samples(dataset, "train"))


# ----- training on Accelerate: exact resume, data parallel, checkpoints from before, options ---
def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from emo_app.models import load_state_dict

    return load_state_dict(folder / "model.safetensors")


def test_an_interrupted_run_resumes_exactly(dataset, tiny_clip, tmp_path):
    """VAE-CLIP draws noise and dropout every step: stopping mid-epoch (and at an epoch's end)
    and resuming gives the very losses and weights of the run that never stopped."""
    samples = load_samples(dataset, "train")  # 36 pairs + mirrors = 72 rows: 9 batches an epoch

    def run(out: Path, *stops: int) -> tuple[dict, list]:
        losses: list = []
        for stop in stops:
            config = TrainConfig(kind="vae-clip", epochs=2, batch_size=8, lr=1e-2, kl_weight=0.1)
            state = train(config, samples, out, clip_encoder=tiny_clip, progress=False, max_steps=stop,
                          on_step=lambda step, loss: losses.append((step, loss)), device="cpu")
        return state, losses

    whole, whole_losses = run(tmp_path / "whole", 13)
    parts, part_losses = run(tmp_path / "parts", 5, 9, 13)
    assert [step for step, _ in part_losses] == list(range(1, 14))
    assert part_losses == whole_losses
    assert parts == whole and whole["step"] == 13 and len(whole["epoch_losses"]) == 1
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "parts")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _as_before_accelerate(folder: Path) -> None:
    """Rewrite a checkpoint in the layout before Accelerate: an Adam state in
    optimizer.safetensors + optimizer.json (as that serialiser wrote them), no training/."""
    import json
    import shutil

    from safetensors.torch import save_file

    module, saved, _ = load_module(folder)
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    module(torch.ones(2, saved.embed_dim)).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    tensors = {f"{i}.{k}": v.contiguous() for i, slots in state["state"].items() for k, v in slots.items()}
    save_file(tensors, str(folder / "optimizer.safetensors"))
    (folder / "optimizer.json").write_text(json.dumps(state["param_groups"]), encoding="utf-8")
    shutil.rmtree(folder / "training")


def test_a_checkpoint_from_before_accelerate_loads_and_resumes_with_a_warning(
    dataset, tiny_clip, tmp_path, caplog
):
    import logging

    from emo_app.text.checkpoints import CheckpointTextModel

    samples = load_samples(dataset, "train")
    out = tmp_path / "ckpt"
    first = TrainConfig(kind="clip-mlp", epochs=1, batch_size=8, lr=1e-2, mirror=False)
    before = train(first, samples, out, clip_encoder=tiny_clip, progress=False, device="cpu")
    assert (out / "training").is_dir()
    _as_before_accelerate(out)
    model = CheckpointTextModel(out, clip_encoder=tiny_clip, emotion_source=_FixedEmotions())
    assert model.predict("a happy face").shapes.values.any()  # inference reads it as before
    more = TrainConfig(kind="clip-mlp", epochs=2, batch_size=8, lr=1e-2, mirror=False)
    with caplog.at_level(logging.WARNING, logger="emo_app.text.train"):
        after = train(more, samples, out, clip_encoder=tiny_clip, progress=False, device="cpu")
    assert "fresh optimizer state" in caplog.text
    assert after["epoch"] == 2 and after["step"] == 2 * before["step"]
    assert after["epoch_losses"][:1] == before["epoch_losses"]
    assert (out / "training").is_dir() and not (out / "optimizer.safetensors").exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="emo_app.text.train"):
        train(TrainConfig(kind="clip-mlp", epochs=3, batch_size=8, lr=1e-2, mirror=False), samples, out,
              clip_encoder=tiny_clip, progress=False, device="cpu")
    assert "fresh optimizer" not in caplog.text  # the new layout resumes its optimizer


def test_bad_training_options_are_refused_clearly(dataset, tmp_path, monkeypatch, capsys):
    import emo_app.text.train as train_module
    from emo_app.cli import main

    samples = load_samples(dataset, "train")
    config = TrainConfig(kind="clip-mlp", epochs=1)
    with pytest.raises(InvalidInputError, match="mixed precision 'xyz'.*auto, no, fp16, bf16"):
        train(config, samples, tmp_path / "a", device="cpu", mixed_precision="xyz")
    with pytest.raises(InvalidInputError, match="device 'gpu'.*auto, cpu"):
        train(config, samples, tmp_path / "a", device="gpu")
    assert not (tmp_path / "a").exists()
    common = ["train", "--model", "clip-mlp", "--data", str(dataset), "--out", str(tmp_path / "c")]
    with pytest.raises(SystemExit) as refused:
        main([*common, "--mixed-precision", "xyz"])
    assert refused.value.code == 2 and "invalid choice: 'xyz'" in capsys.readouterr().err
    seen = []
    monkeypatch.setattr(train_module, "train",
                        lambda config, samples, out, **options: seen.append(options) or {})
    assert main([*common, "--no-images", "--device", "cpu", "--mixed-precision", "bf16"]) == 0
    assert (seen[-1]["device"], seen[-1]["mixed_precision"]) == ("cpu", "bf16")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one_with_the_same_global_batch(dataset, tiny_encoder, tmp_path):
    """`accelerate launch` with 2 CPU processes (gloo DDP) and batch 5 trains what one process
    with batch 5 does. LM+MLP fine-tunes a BERT (without dropout, so both runs draw nothing) whose
    pooler the loss never uses; 36 rows in batches of 5 end with a batch of 1 row, which leaves
    the second process without rows."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    encoder = tmp_path / "bert-no-dropout"
    shutil.copytree(tiny_encoder, encoder)
    settings = json.loads((encoder / "config.json").read_text())
    settings.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (encoder / "config.json").write_text(json.dumps(settings))
    config = TrainConfig(kind="lm-mlp", encoder=str(encoder), epochs=1, batch_size=5, lr=1e-3, mirror=False)
    single = train(config, load_samples(dataset, "train"), tmp_path / "one", progress=False, device="cpu")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()), "-m", "emo_app", "train", "--model", "lm-mlp",
        "--encoder", str(encoder), "--data", str(dataset), "--out", str(tmp_path / "two"), "--epochs", "1",
        "--batch-size", "5", "--lr", "1e-3", "--no-mirror", "--device", "cpu", "--mixed-precision", "no",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", EMO_OFFLINE="1", HF_HUB_OFFLINE="1")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count('"checkpoint"') == 1  # one report, from the main process
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["step"] == single["step"] == 8
    assert report["epoch_losses"][0] == pytest.approx(single["epoch_losses"][0], rel=1e-5)
    for part in ("model.safetensors", "encoder/model.safetensors"):
        from emo_app.models import load_state_dict

        a, b = load_state_dict(tmp_path / "one" / part), load_state_dict(tmp_path / "two" / part)
        assert a.keys() == b.keys()
        assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5


def test_a_launched_command_ends_its_process_group(tmp_path):
    """The CLI tears down a data-parallel group when its command returns (left to the exit,
    gloo could abort a finished process and fail the launch); without a group it is a no-op."""
    import torch.distributed as dist

    from emo_app.models.training import end_process_group

    end_process_group()  # no group: nothing to do
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    end_process_group()
    assert not dist.is_initialized()
