"""`python -m emo_app benchmark` (the Table-2 report) and `python -m emo_app score-face` (one image).

Imports stay inside the handlers so `--help` is fast.
"""

from __future__ import annotations

import argparse
import json

from emo_app.cli_args import positive_number, whole_number


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _benchmark(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emo_app.metric.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig(
        models=_split(args.models), pool=args.pool, out_dir=Path(args.out), k=args.k, alpha=args.alpha,
        psi=args.psi, batch_size=args.batch_size, limit=args.limit, judges=_split(args.judges),
        use_clip=not args.no_clip, clip_model=args.clip_model, clip_pretrained=args.clip_pretrained,
        render_size=args.render_size, resume=not args.no_resume,
    )
    report = run_benchmark(config, progress=not args.quiet)
    if report.clip_note:
        print(report.clip_note)
    print(report.files["markdown"].read_text(encoding="utf-8"))
    for kind, path in report.files.items():
        print(f"{kind}: {path}")
    return 0


def _parse_emotions(text: str) -> dict[str, float]:
    from emo_app.errors import InvalidInputError

    out = {}
    for part in _split(text):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError as exc:
            raise InvalidInputError(
                f"Write emotions as name=value pairs, e.g. sadness=0.8,neutral=0.2; got '{part}'."
            ) from exc
    return out


def _score_face(args: argparse.Namespace) -> int:
    import numpy as np

    from emo_app.emotion.emotions import as_intensities
    from emo_app.metric.live import score_face
    from emo_app.metric.pool import load_pool
    from emo_app.validation import load_image

    image = np.asarray(load_image(args.image))
    intended = None
    if args.blendshapes:
        from pathlib import Path

        from emo_app.blendshapes.io import from_json

        intended = from_json(Path(args.blendshapes).read_text(encoding="utf-8"))
    result = score_face(
        image, as_intensities(_parse_emotions(args.emotions)), intended, k=args.k,
        pool=load_pool(args.pool) if args.pool else None,
    )
    if result["emo3d_unavailable"]:
        print(result["emo3d_unavailable"])
    print(json.dumps(result, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser(
        "benchmark", help="Table-2 style report: Emo3D, recall@k, MSE and the offline judges per text model"
    )
    bench.add_argument("--models", default="embedded", help="comma-separated text model names")
    bench.add_argument("--pool", default=None, help="pool CSV or Emo3D split CSV (default: the shipped pool)")
    bench.add_argument("--out", default="reports/benchmark", help="folder for report.md/.csv/.png")
    bench.add_argument("--k", type=whole_number(1), default=10, help="top-k prompts retrieved per face")
    bench.add_argument("--alpha", type=positive_number, default=1.0, help="Emo3D = sigmoid(mean KL / alpha)")
    bench.add_argument(
        "--psi", default="normalise-then-mean", choices=["normalise-then-mean", "sum-then-normalise"],
        help="how the top-k retrieved prompts make psi: the mean of their distributions (default) "
        "or their intensities summed, then normalised",
    )
    bench.add_argument("--limit", type=whole_number(1), default=None,
                       help="score N prompts spread over the pool (default: all)")
    bench.add_argument("--batch-size", type=whole_number(1), default=16, help="faces per CLIP batch")
    bench.add_argument("--render-size", type=whole_number(32, 2048), default=256, help="pixels per face")
    bench.add_argument("--judges", default="fer,mediapipe", help="offline judges to run ('' for none)")
    bench.add_argument("--no-clip", action="store_true", help="skip the Emo3D metric (offline judges only)")
    bench.add_argument("--clip-model", default="ViT-B-32-quickgelu", help="any open_clip model name")
    bench.add_argument("--clip-pretrained", default="openai", help="open_clip tag or a local weights file")
    bench.add_argument("--no-resume", action="store_true", help="ignore cached per-prompt results")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(func=_benchmark)

    face = subparsers.add_parser("score-face", help="Emo3D live score of one image (or the offline judges)")
    face.add_argument("--image", required=True, help="the face image (PNG, JPEG, WebP or BMP)")
    face.add_argument("--emotions", required=True, help="e.g. sadness=0.8,neutral=0.2")
    face.add_argument("--blendshapes", default=None, help="intended blendshapes JSON (MediaPipe judge)")
    face.add_argument("--pool", default=None, help="pool CSV (default: the shipped pool)")
    face.add_argument("--k", type=whole_number(1), default=10, help="top-k prompts retrieved")
    face.set_defaults(func=_score_face)
