"""GANmut-3D commands: train-ganmut, ganmut-labels, ganmut-edit. Imports stay light here;
torch and the networks load inside the handlers."""

from __future__ import annotations

import argparse

from emo_app.errors import InvalidInputError


def _parse_point(text: str):  # -> EmotionPoint
    from emo_app.emotion.space import EmotionPoint

    parts = [p for p in text.replace(" ", "").split(",") if p]
    if len(parts) != 3:
        raise InvalidInputError(
            f"--point needs three numbers 'valence,arousal,z' (e.g. 0.5,0.2,-0.3); got {text!r}."
        )
    return EmotionPoint(*parts)


def _train(args: argparse.Namespace) -> int:
    from emo_app.ganmut.config import GanmutConfig
    from emo_app.ganmut.train import TrainOptions, train

    config = GanmutConfig(
        image_size=args.image_size,
        batch_size=args.batch_size,
        g_conv_dim=args.g_conv_dim,
        d_conv_dim=args.d_conv_dim,
        g_repeat_num=args.g_repeat_num,
        n_critic=args.n_critic,
        g_lr=args.lr,
        d_lr=args.lr,
        seed=args.seed,
    )
    options = TrainOptions(
        steps=args.steps, save_every=args.save_every, sample_every=args.sample_every,
        au_estimator=args.au, device=args.device, mixed_precision=args.mixed_precision,
    )
    weights = train(args.data, args.labels, args.out, config, options)
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(weights)
    return 0


def _labels(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    from emo_app.ganmut.train import export_pseudo_labels
    from emo_app.models.manager import pick_device

    device = "cpu" if args.device == "cpu" else pick_device(args.device)
    count = export_pseudo_labels(args.checkpoint, args.data, args.out, device=device, labels=args.labels)
    if PartialState().is_main_process:  # one line per run, not one per process
        print(f"wrote {count} rows to {args.out}")
    return 0


def _edit(args: argparse.Namespace) -> int:
    from PIL import Image

    from emo_app.ganmut.edit import edit_photo

    result = edit_photo(args.image, _parse_point(args.point), args.checkpoint)
    Image.fromarray(result).save(args.out)
    print(args.out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train-ganmut", help="train GANmut-3D (learns the C2A2 Z axis)")
    train.add_argument("--data", required=True, help="folder of face images")
    train.add_argument("--labels", required=True, help="CSV file,class,valence,arousal[,z] (AffectNet style)")
    train.add_argument("--out", required=True, help="output folder (resumes when it holds a checkpoint)")
    train.add_argument("--steps", type=int, default=100_000, help="generator steps")
    train.add_argument("--batch-size", type=int, default=16, help="images per step")
    train.add_argument("--image-size", type=int, default=128, help="images are resized to this many pixels")
    train.add_argument("--g-conv-dim", type=int, default=64, help="generator width (first layer)")
    train.add_argument("--d-conv-dim", type=int, default=64, help="discriminator width (first layer)")
    train.add_argument("--g-repeat-num", type=int, default=6, help="residual blocks in the generator")
    train.add_argument("--n-critic", type=int, default=5, help="discriminator steps per generator step")
    train.add_argument("--lr", type=float, default=1e-4, help="learning rate of both networks")
    train.add_argument("--seed", type=int, default=0, help="seed of the training run")
    train.add_argument("--save-every", type=int, default=1000, help="steps between checkpoints")
    train.add_argument("--sample-every", type=int, default=1000, help="steps between sample grids")
    train.add_argument("--au", choices=("mediapipe", "none"), default="mediapipe",
                       help="Z supervision of real images from action units (MediaPipe blendshapes)")
    train.add_argument("--mixed-precision", default="no", choices=("no", "fp16", "bf16", "auto"),
                       help="no: full float32")
    train.add_argument("--device", default="auto",
                       help="cpu forces CPU; otherwise Accelerate places each process (accelerate launch)")
    train.set_defaults(func=_train)

    labels = subparsers.add_parser("ganmut-labels", help="export file,valence,arousal,z pseudo-labels")
    labels.add_argument("--checkpoint", required=True, help="training folder or .safetensors weights")
    labels.add_argument("--data", required=True, help="folder of face images")
    labels.add_argument("--out", required=True, help="CSV to write")
    labels.add_argument("--labels", default=None,
                        help="the training CSV file,class,valence,arousal: its valence/arousal are kept, "
                             "only Z comes from the model (without it, all three are estimated)")
    labels.add_argument("--device", default="auto", help="cpu, cuda or auto")
    labels.set_defaults(func=_labels)

    edit = subparsers.add_parser("ganmut-edit", help="move a face photo to a C2A2 point")
    edit.add_argument("--checkpoint", default=None, help="default: the ganmut-c2a2 model in weights/")
    edit.add_argument("--image", required=True, help="a face photo (PNG, JPEG, WebP or BMP)")
    edit.add_argument(
        "--point",
        required=True,
        help="valence,arousal,z; write --point=-0.1,0.5,0.87 (with '=') when it starts with '-'",
    )
    edit.add_argument("--out", required=True, help="PNG to write")
    edit.set_defaults(func=_edit)
