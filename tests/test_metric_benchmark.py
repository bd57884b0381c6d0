"""The Table-2 benchmark: report files, resuming from the per-prompt cache, the no-CLIP path,
ground-truth MSE and the CLI; fakes stand in for the text model and the renderer."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest
from PIL import Image

from emo_app.blendshapes import Blendshapes
from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities
from emo_app.errors import InvalidInputError
from emo_app.metric.benchmark import BenchmarkConfig, run_benchmark
from emo_app.metric.pool import PromptPool, write_pool
from emo_app.models.clip import TextEmbeddingCache


class FakePrediction:
    def __init__(self, shapes: Blendshapes, emotions: EmotionIntensities):
        self.shapes, self.emotions = shapes, emotions


class FakeTextModel:
    """Deterministic: blendshapes seeded by the text's hash; a fixed emotion guess."""

    def __init__(self, salt: str = ""):
        self.salt, self.calls = salt, 0

    def predict_batch(self, texts):
        self.calls += len(texts)
        out = []
        for text in texts:
            seed = int(hashlib.sha256((self.salt + text).encode()).hexdigest()[:8], 16)
            values = np.random.default_rng(seed).uniform(0, 0.6, 52)
            out.append(FakePrediction(Blendshapes(values), EmotionIntensities(np.full(8, 0.2))))
        return out


class FakeRenderer:
    """One small image per weight vector: a head whose colours encode the weights."""

    def __init__(self):
        self.rendered = 0

    def __call__(self, shapes_list):
        self.rendered += len(shapes_list)
        images = []
        for shapes in shapes_list:
            image = np.full((48, 48, 3), 255, np.uint8)
            tint = (shapes.values[:3] * 255).astype(np.uint8)
            image[8:40, 12:36] = tint
            image[28:31, 16:32] = (shapes.values[24] * 255).astype(np.uint8)  # jawOpen as a mouth
            images.append(image)
        return images


def _pool_file(tmp_path, n: int = 14, name: str = "pool.csv"):
    rng = np.random.default_rng(3)
    texts = tuple(f"person {i} looks {w}" for i, w in zip(range(n), rng.choice(["glad", "sad", "cross"], n)))
    pool = PromptPool(texts=texts, intensities=rng.integers(0, 11, (n, 8)) / 10)
    return write_pool(pool, tmp_path / name)


def _config(tmp_path, pool_path, **kwargs) -> BenchmarkConfig:
    base = dict(models=("fake-a", "fake-b"), pool=str(pool_path), out_dir=tmp_path / "out", k=4,
                batch_size=5, judges=("fer",), render_size=48)
    base.update(kwargs)
    return BenchmarkConfig(**base)


def test_report_files_and_resume(tmp_path, tiny_clip):
    pool_path = _pool_file(tmp_path)
    models = {"fake-a": FakeTextModel("a"), "fake-b": FakeTextModel("b")}
    renderer = FakeRenderer()
    text_cache = TextEmbeddingCache(tmp_path / "text")
    config = _config(tmp_path, pool_path)
    report = run_benchmark(config, text_models=models, render_fn=renderer, clip=tiny_clip,
                           text_cache=text_cache, progress=False)
    assert renderer.rendered == 28  # 14 prompts x 2 models
    assert {p.name for p in report.files.values()} == {"report.md", "report.csv", "report.png"}
    rows = list(csv.DictReader(report.files["csv"].open()))
    assert [r["model"] for r in rows] == ["fake-a", "fake-b"]
    for row in report.rows:
        assert 0.0 < row.emo3d < 1.0 and 0.0 <= row.recall_at_k <= 1.0
        assert row.emo3d_released_code > row.emo3d  # the released formula sums k divergences
        assert row.fer_kl is not None and row.mse is None  # no ground truth in this pool
        assert row.emotion_mae == pytest.approx(
            np.mean(np.abs(0.2 - np.loadtxt(pool_path, delimiter=",", skiprows=1, usecols=range(3, 11)))),
            abs=1e-4)
    markdown = report.files["markdown"].read_text()
    assert "Emo3D (lower is better)" in markdown and "Offline FER judge" in markdown

    # a second run renders nothing: every prompt comes from the cache, scores are identical
    again = run_benchmark(config, text_models=models, render_fn=renderer, clip=tiny_clip,
                          text_cache=text_cache, progress=False)
    assert renderer.rendered == 28 and text_cache.hits >= 1
    assert [r.emo3d for r in again.rows] == [r.emo3d for r in report.rows]

    # an interrupted run: drop the last lines of one cache file -> only those prompts are redone
    cache_file = sorted((tmp_path / "out" / ".cache").glob("fake-a-*.jsonl"))[0]
    lines = cache_file.read_text().splitlines()
    cache_file.write_text("\n".join(lines[:10]) + "\n" + lines[10][:25])  # the last line half-written
    resumed = run_benchmark(config, text_models=models, render_fn=renderer, clip=tiny_clip,
                            text_cache=text_cache, progress=False)
    assert renderer.rendered == 28 + 4
    assert resumed.rows[0].emo3d == pytest.approx(report.rows[0].emo3d)

    # a changed pool starts afresh
    changed = _pool_file(tmp_path, n=15, name="pool2.csv")
    run_benchmark(_config(tmp_path, changed), text_models=models, render_fn=renderer, clip=tiny_clip,
                  text_cache=text_cache, progress=False)
    assert renderer.rendered == 28 + 4 + 30


def test_report_says_which_psi_and_the_option_changes_the_score(tmp_path, tiny_clip):
    pool_path = _pool_file(tmp_path)  # rows of independent intensities: most sum to more than 1
    models = {"fake-a": FakeTextModel("a")}
    text_cache = TextEmbeddingCache(tmp_path / "text")
    reports = {}
    for psi in ("normalise-then-mean", "sum-then-normalise"):
        config = _config(tmp_path, pool_path, models=("fake-a",), psi=psi)
        reports[psi] = run_benchmark(config, text_models=models, render_fn=FakeRenderer(), clip=tiny_clip,
                                     text_cache=text_cache, progress=False)
        markdown = reports[psi].files["markdown"].read_text()
        assert f"(`{psi}`)" in markdown
    mean_row, sum_row = reports["normalise-then-mean"].rows[0], reports["sum-then-normalise"].rows[0]
    assert mean_row.recall_at_k == sum_row.recall_at_k  # the same retrieval
    assert mean_row.mean_kl != pytest.approx(sum_row.mean_kl, abs=1e-6)
    with pytest.raises(InvalidInputError, match="psi"):
        _config(tmp_path, pool_path, psi="sum")


def test_without_clip_only_offline_judges_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("EMO_OFFLINE", "1")
    config = _config(tmp_path, _pool_file(tmp_path), models=("fake-a",), limit=6)
    report = run_benchmark(config, text_models={"fake-a": FakeTextModel()}, render_fn=FakeRenderer(),
                           progress=False)
    assert report.rows[0].emo3d is None and report.rows[0].prompts == 6
    assert report.rows[0].fer_kl is not None
    # said plainly: what is missing and how to get it, without the resolver's nested parentheses
    assert report.clip_note.startswith("Emo3D not computed: it needs the CLIP model '")
    assert "weights fetch" in report.clip_note and "looked in" not in report.clip_note
    assert f"> {report.clip_note}" in report.files["markdown"].read_text()
    computed = [key for key in ("emo3d", "recall_at_k", "fer_kl", "mediapipe_r")
                if getattr(report.rows[0], key) is not None]
    assert computed == ["fer_kl"]  # MediaPipe finds no face on the fake renders
    with Image.open(report.files["png"]) as chart:  # 4 inches at 110 dpi a panel: no empty CLIP panels
        assert chart.width == 440 * len(computed)


def test_the_report_gives_faces_found_as_a_share_of_the_prompts(tmp_path):
    """MediaPipe found a face in all 40 renders; report.md said "faces found: 1.0000"."""
    from emo_app.metric.benchmark import BenchmarkReport, ModelScores, write_report

    report = BenchmarkReport([ModelScores("embedded", 40, fer_kl=1.2676, mediapipe_detected=1.0)],
                             "pool", 40, 10, 1.0, None)
    markdown = write_report(report, tmp_path)["markdown"].read_text()
    (row,) = [line for line in markdown.splitlines() if line.startswith("| embedded |")]
    assert row == "| embedded | 40 | 1.2676 | 100% |"


def test_the_report_shows_the_computed_measures_and_says_what_each_means(tmp_path):
    """Offline, report.md had 13 columns, 8 of them "n/a", and explained only Emo3D and MSE: a
    reader could not tell what "FER judge KL" or "MediaPipe judge r" measure, nor which way is better."""
    from emo_app.metric.benchmark import BenchmarkReport, ModelScores, write_report

    row = ModelScores("embedded", 40, emotion_mae=0.09, fer_kl=1.27, fer_agreement=0.5, mediapipe_r=0.52,
                      mediapipe_mse=0.05, mediapipe_detected=1.0)
    report = BenchmarkReport([row], "pool", 435, 5, 1.0, None)
    lines = write_report(report, tmp_path)["markdown"].read_text().splitlines()
    header = next(line for line in lines if line.startswith("| Model |"))
    assert header.count("|") == 9 and not any("n/a" in line for line in lines)  # 8 columns, all computed
    meanings = [line for line in lines if line.startswith("- ")]
    assert len(meanings) == 6 and all("is better)" in m or "share of" in m for m in meanings)
    assert "- Offline FER judge: KL (lower is better): the prompt's emotions against" in meanings[1]
    assert "Not computed in this run: MSE; Emo3D; Mean KL; Recall@5; Emo3D, released-code formula." in lines
    assert not any("psi" in line for line in lines)  # how Emo3D's psi is made, with no Emo3D


def _emo3d_split(tmp_path):
    rng = np.random.default_rng(5)
    header = ["sample_id", "text_1", "text_2", "text_3", *EMO3D_EMOTIONS]
    header += [f"blenshape_score_{j}" for j in range(1, 5)]
    path = tmp_path / "test_data.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(12):
            scores = Blendshapes(rng.uniform(0, 1, 52)).to_emo3d_string()
            emotions = rng.integers(0, 11, 8) / 10
            writer.writerow([i, f"face {i} text", "b", "c", *emotions, scores, "", "", ""])
    return path


def test_cli_benchmark_with_ground_truth_model(tmp_path, monkeypatch, capsys):
    import emo_app.metric.benchmark as benchmark
    from emo_app.cli import main

    monkeypatch.setattr(benchmark, "default_render_fn", lambda size: FakeRenderer())
    out = tmp_path / "report"
    code = main(["benchmark", "--models", "ground-truth", "--pool", str(_emo3d_split(tmp_path)), "--out",
                 str(out), "--no-clip", "--judges", "fer", "--k", "4", "--quiet"])
    assert code == 0
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert rows[0]["model"] == "ground-truth"
    assert float(rows[0]["mse"]) == pytest.approx(0.0, abs=1e-8)  # it returns the truth itself
    assert rows[0]["emo3d"] == ""
    assert "report.md" in capsys.readouterr().out


def test_default_pipeline_real_text_model_and_renderer(tmp_path, tiny_clip):
    """The app's own text model and renderer through the benchmark, both judges included."""
    try:
        from emo_app.face import get_face_renderer
        from emo_app.text import get_text_model

        model = get_text_model("embedded")
        get_face_renderer().render(Blendshapes.zeros(), size=64)
    except Exception as exc:  # not landed yet, or no EGL here
        pytest.skip(f"text model or renderer unavailable: {exc}")
    config = BenchmarkConfig(models=("embedded",), out_dir=tmp_path / "out", k=10, limit=3, batch_size=3,
                             render_size=192)
    report = run_benchmark(config, text_models={"embedded": model}, clip=tiny_clip,
                           text_cache=TextEmbeddingCache(tmp_path / "text"), progress=False)
    row = report.rows[0]
    assert row.prompts == 3 and row.emo3d is not None
    assert row.mediapipe_detected == 1.0  # MediaPipe finds every rendered head
    assert row.mediapipe_r is not None and row.fer_kl is not None
    assert row.emotion_mae is not None and row.emotion_mae < 0.5


LAUNCHED = """
import hashlib, sys
import numpy as np
from emo_app.blendshapes import Blendshapes
from emo_app.metric.benchmark import BenchmarkConfig, run_benchmark

class Prediction:
    def __init__(self, shapes):
        self.shapes, self.emotions = shapes, None

class HashModel:
    def predict_batch(self, texts):
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return [Prediction(Blendshapes(np.random.default_rng(s).uniform(0, 0.6, 52))) for s in seeds]

def render(shapes_list):
    return [np.full((48, 48, 3), (s.values[:3] * 255).astype(np.uint8), np.uint8) for s in shapes_list]

pool, out = sys.argv[1:3]
config = BenchmarkConfig(models=("hash",), pool=pool, out_dir=out, k=4, batch_size=2, judges=("fer",),
                         use_clip=False, render_size=48)
run_benchmark(config, text_models={"hash": HashModel()}, render_fn=render, progress=False)
from pathlib import Path
from accelerate import PartialState
from emo_app.models.training import end_process_group
state = PartialState()
Path(sys.argv[-1] + f".rank{state.process_index}").write_text(str(state.num_processes))
end_process_group()  # as the CLI does when a command returns
"""


@pytest.mark.slow
def test_two_processes_score_shards_and_the_report_equals_one_process(tmp_path):
    """`accelerate launch` with 2 CPU processes splits each round of prompts between them and
    gathers the records on the main process: cache and report equal a single process's."""
    import os
    import socket
    import subprocess
    import sys

    pool = _emo3d_split(tmp_path)
    script = tmp_path / "launched.py"
    script.write_text(LAUNCHED)
    for processes, out in ((1, tmp_path / "one"), (2, tmp_path / "two")):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        launcher = ["--multi_gpu", "--num_processes", "2"] if processes == 2 else ["--num_processes", "1"]
        command = [sys.executable, "-m", "accelerate.commands.launch", *launcher, "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
                   str(script), str(pool), str(out)]
        env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        ranks = sorted(tmp_path.glob(f"{out.name}.rank*"))  # each process wrote its group's size
        assert [r.read_text() for r in ranks] == [str(processes)] * processes
    one_cache, two_cache = (sorted((tmp_path / d / ".cache").glob("*.jsonl")) for d in ("one", "two"))
    one_lines, two_lines = one_cache[0].read_text().splitlines(), two_cache[0].read_text().splitlines()
    assert len(one_lines) == 12 and one_lines == two_lines  # every prompt once, in pool order
    assert (tmp_path / "one" / "report.csv").read_text() == (tmp_path / "two" / "report.csv").read_text()
    assert float(next(csv.DictReader((tmp_path / "two" / "report.csv").open()))["mse"]) > 0
