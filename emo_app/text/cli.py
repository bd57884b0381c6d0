"""`python -m emo_app text | text-models | train | evaluate` (heavy imports inside handlers)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emo_app.cli_args import whole_number


def _text(args: argparse.Namespace) -> int:
    from emo_app.text import get_text_model
    from emo_app.text.base import validate_description

    validate_description(args.description)  # before loading a model: an empty text needs no model
    prediction = get_text_model(args.model).predict(args.description)
    data = prediction.to_dict()
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2), encoding="utf-8")
    print(json.dumps(data, indent=2) if args.full else _summary(data))
    return 0


def _summary(data: dict) -> str:
    emotions = ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(data["emotions"].items(), key=lambda kv: -kv[1]) if v >= 0.05
    )
    top = sorted(data["blendshapes"].items(), key=lambda kv: -kv[1])[:8]
    point = data["point"]
    lines = [
        f"model: {data['model']}",
        f"emotions: {emotions}",
        f"C2A2: valence {point['valence']:.2f}, arousal {point['arousal']:.2f}, z {point['z']:.2f} "
        f"(nearest: {point['nearest_classes'][0][0]})",
        f"cues: {', '.join(data['cues']) or 'none'}",
        "top blendshapes:",
    ]
    for name, value in top:
        if value > 0:
            why = data["explanation"].get(name, [])
            lines.append(f"  {name:<20} {value:.2f}  <- {why[0][0] if why else ''}")
    return "\n".join(lines)


def _models(args: argparse.Namespace) -> int:
    from emo_app.text import list_text_models

    rows = list_text_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<24} {'available' if row['available'] else 'missing':<9}  {row['description']}")
        print(f"{'':<24} {'':<9}  {row['reason']}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from emo_app.config import Settings
    from emo_app.text.data import load_samples
    from emo_app.text.registry import checkpoint_root
    from emo_app.text.train import CLIP_KINDS, TrainConfig, choose_encoder, find_image_root, train

    settings = Settings.from_env()
    samples = load_samples(args.data, args.split)
    encoder = args.encoder or ""
    if args.model in CLIP_KINDS:
        image_root = args.image_root or ("" if args.no_images else find_image_root(args.data, samples) or "")
        if image_root:
            with_images = sum(1 for s in samples if s.image)
            print(f"{args.model}: training on text and {with_images} image embeddings from {image_root}")
        else:
            why = "--no-images" if args.no_images else "no complete image folder next to the data"
            print(f"{args.model}: training on text only ({why})")
    else:
        image_root = ""
        if not encoder:
            encoder, why = choose_encoder(args.model, settings)
            print(why)
    config = TrainConfig(
        kind=args.model,
        encoder=encoder,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        train_encoder=not args.freeze_encoder,
        shape_weight=args.shape_weight,
        emotion_weight=args.emotion_weight,
        kl_weight=args.kl_weight,
        mirror=not args.no_mirror,
        use_images=bool(image_root),
        image_root=str(image_root),
        description=args.description or "",
    )
    out = (
        Path(args.out)
        if args.out
        else checkpoint_root(settings) / f"{args.model}-{Path(config.encoder).name}"
    )
    state = train(config, samples, out, resume=not args.restart, settings=settings, max_steps=args.max_steps,
                  device=args.device, mixed_precision=args.mixed_precision)
    from accelerate import PartialState

    if PartialState().is_main_process:  # one report per run, not one per process
        print(json.dumps({"checkpoint": str(out), **state}, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from emo_app.text import get_text_model
    from emo_app.text.data import load_samples
    from emo_app.text.train import evaluate

    samples = load_samples(args.data, args.split)
    if args.limit:
        samples = samples[: args.limit]
    report = evaluate(get_text_model(args.model), samples, batch_size=args.batch_size)
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text, encoding="utf-8")
    print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the text commands to `python -m emo_app`."""
    text = subparsers.add_parser("text", help="describe a face in words; print emotions and blendshapes")
    text.add_argument("description", help='e.g. "a joyful smile"')
    text.add_argument("--model", default="embedded", help="text model name (see `text-models`)")
    text.add_argument("--json", metavar="PATH", help="also write the full prediction as JSON")
    text.add_argument("--full", action="store_true", help="print the full JSON instead of a summary")
    text.set_defaults(func=_text)

    models = subparsers.add_parser("text-models", help="list text models and whether they can load")
    models.add_argument("--json", action="store_true", help="print the list as JSON")
    models.set_defaults(func=_models)

    tr = subparsers.add_parser("train", help="train an Emo3D baseline on the Emo3D dataset (resumable)")
    tr.add_argument("--model", required=True, choices=["lm-mlp", "emotion-xlm", "clip-mlp", "vae-clip"],
                    help="which Emo3D baseline to train")
    tr.add_argument("--data", required=True, help="Emo3D folder, CSV or parquet")
    tr.add_argument("--split", default="train", help="which split of the data to train on")
    tr.add_argument(
        "--encoder",
        help="transformers encoder (name, hf id or folder); default the paper's: bert-base-uncased "
        "(lm-mlp), xlm-roberta-base (emotion-xlm), minilm when those are unavailable; glot500-base also "
        "known; CLIP models use clip-vit-b-32",
    )
    tr.add_argument("--out", help="checkpoint folder (default weights/text/MODEL-ENCODER)")
    tr.add_argument("--epochs", type=whole_number(1), default=50, help="default 50, as in the paper")
    tr.add_argument("--batch-size", type=whole_number(1), default=32,
                    help="the global batch: under accelerate launch each process takes its share")
    tr.add_argument("--lr", type=float, default=0.0, help="0 = the paper's default for the model")
    tr.add_argument("--seed", type=whole_number(0), default=0, help="seed of the weights and the shuffling")
    tr.add_argument(
        "--freeze-encoder", action="store_true", help="train only the heads (the paper fine-tunes the LM)"
    )
    tr.add_argument(
        "--shape-weight", type=float, default=1.0, help="Emotion-XLM l1 (blendshape MSE); our default"
    )
    tr.add_argument(
        "--emotion-weight", type=float, default=0.5, help="Emotion-XLM l2 (emotion MSE); our default"
    )
    tr.add_argument("--kl-weight", type=float, default=0.0, help="VAE-CLIP KL term (0 = as released)")
    tr.add_argument("--no-mirror", action="store_true", help="skip left/right mirror augmentation")
    tr.add_argument(
        "--image-root",
        help="CLIP models: folder the dataset's image paths are relative to (default: found next to "
        "the data; the models then train on image embeddings too)",
    )
    tr.add_argument("--no-images", action="store_true", help="CLIP models: train on text only")
    tr.add_argument("--max-steps", type=whole_number(1), help="stop after this many optimisation steps")
    tr.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    tr.add_argument("--device", default="auto", choices=("auto", "cpu"),
                    help="cpu forces CPU; otherwise Accelerate places each process (accelerate launch)")
    tr.add_argument("--mixed-precision", default="auto", choices=("auto", "no", "fp16", "bf16"),
                    help="auto: bf16 where the GPU has it, else fp16; always no on CPU")
    tr.add_argument("--description", help="a note stored with the checkpoint")
    tr.set_defaults(func=_train)

    ev = subparsers.add_parser("evaluate", help="MSE overall, per face region and per emotion on Emo3D data")
    ev.add_argument("--model", default="embedded", help="text model name or checkpoint folder")
    ev.add_argument("--data", required=True, help="Emo3D folder, CSV or parquet")
    ev.add_argument("--split", default="test", help="which split of the data to evaluate")
    ev.add_argument("--batch-size", type=whole_number(1), default=32, help="texts per forward pass")
    ev.add_argument("--limit", type=whole_number(0), default=0, help="only the first N pairs (0: all)")
    ev.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    ev.set_defaults(func=_evaluate)
