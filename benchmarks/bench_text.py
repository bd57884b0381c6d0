"""Embedded text model latency and throughput vs a BERT-base + Emo3D MLP of random weights
(the paper's LM + MLP baseline size), measured in the same run on the same texts."""

from __future__ import annotations

import statistics
import time

TEXTS = [
    "A joyful woman with a big smile",
    "He is furious, his brows furrowed and jaw clenched",
    "She looks slightly surprised, her left eyebrow raised",
    "An old man with a sorrowful face, close to tears",
    "A terrified child with wide eyes and a mouth agape",
    "He wrinkles his nose in disgust at the rotten food",
    "She regards him with cold contempt and a smirk",
    "A calm, neutral expression",
    "The person has a broad grin and eyes alight with cheer",
    "happily surprised, grinning widely",
    "bittersweet, a faint smile with teary eyes",
    "not happy at all, lips pressed together",
]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.9 * (len(ordered) - 1))] * 1000


def _time_each(fn, texts: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        for text in texts:
            start = time.perf_counter()
            fn(text)
            times.append(time.perf_counter() - start)
    return times


def run(quick: bool = False) -> dict:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from emo_app.models import resolve
    from emo_app.text.baselines import Emo3DHead
    from emo_app.text.embedded import EmbeddedTextModel

    repeats = 2 if quick else 6
    batch = TEXTS * (2 if quick else 4)
    model = EmbeddedTextModel.load()
    model.predict("warm up")

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(
        str(resolve("minilm")), local_files_only=True
    )  # BERT uncased vocab
    bert = BertModel(BertConfig()).eval()  # bert-base size, random weights: no download
    head = Emo3DHead(768).eval()

    @torch.inference_mode()
    def reference(texts: list[str]):
        tokens = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        return head(bert(**tokens).last_hidden_state[:, 0])

    reference(["warm up"])
    ours = _time_each(model.predict, TEXTS, repeats)
    theirs = _time_each(lambda t: reference([t]), TEXTS, max(1, repeats // 2))
    ours_p50, ours_p90 = _percentiles(ours)
    ref_p50, ref_p90 = _percentiles(theirs)

    def batch_seconds(fn) -> float:  # median of 3 whole-batch runs, both in chunks of 32
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for i in range(0, len(batch), 32):
                fn(batch[i : i + 32])
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    ours_batch = batch_seconds(model.predict_batch)
    ref_batch = batch_seconds(reference)
    return {
        "title": "Text -> blendshapes: embedded model vs BERT-base + Emo3D MLP",
        "rows": [
            {
                "case": "embedded, one text (p50/p90)",
                "median_ms": round(ours_p50, 2),
                "p90_ms": round(ours_p90, 2),
                "ratio_vs_reference": round(ref_p50 / ours_p50, 2),
                "n": len(ours),
            },
            {
                "case": "BERT-base + MLP (random), one text",
                "median_ms": round(ref_p50, 2),
                "p90_ms": round(ref_p90, 2),
                "ratio_vs_reference": 1.0,
                "n": len(theirs),
            },
            {
                "case": f"embedded, batch of {len(batch)}",
                "median_ms": round(ours_batch * 1000 / len(batch), 2),
                "p90_ms": round(ours_batch * 1000 / len(batch), 2),
                "texts_per_s": round(len(batch) / ours_batch, 1),
                "ratio_vs_reference": round(ref_batch / ours_batch, 2),
            },
            {
                "case": f"BERT-base + MLP, batch of {len(batch)}",
                "median_ms": round(ref_batch * 1000 / len(batch), 2),
                "p90_ms": round(ref_batch * 1000 / len(batch), 2),
                "texts_per_s": round(len(batch) / ref_batch, 1),
                "ratio_vs_reference": 1.0,
            },
        ],
        "reference": (
            "BERT-base (random weights, bert uncased vocabulary) + the Emo3D MLP head, same texts, same run"
        ),
        "notes": (
            f"Goal: p50 <= 15 ms per text and >= 5x faster than the reference. torch threads: "
            f"{torch.get_num_threads()}. Per-text rows time predict() end to end (validation, rules, "
            "MiniLM traced with TorchScript, FACS prior); batch rows are per-text averages of the "
            "median of 3 runs, both models fed chunks of 32."
        ),
    }
