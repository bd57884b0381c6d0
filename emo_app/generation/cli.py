"""Sub-commands of the generator: train-c2a2, generate-c2a2, walk-c2a2, generator-status.
Heavy imports happen inside the handlers so `python -m emo_app --help` stays fast."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emo_app.generation.schedulers import DEFAULT_PRESET


def _train(args: argparse.Namespace) -> int:
    from emo_app.generation.train import TrainConfig, train_c2a2

    config = TrainConfig(
        data_dir=Path(args.data),
        out_dir=Path(args.out),
        base_model=args.base,
        labels_csv=Path(args.labels) if args.labels else None,
        class_images_dir=Path(args.class_images) if args.class_images else None,
        num_class_images=args.num_class_images,
        class_image_preset=args.class_image_preset,
        class_image_steps=args.class_image_steps,
        resolution=args.resolution,
        batch_size=args.batch_size,
        max_steps=args.steps,
        learning_rate=args.lr,
        number_encoder_lr=args.number_encoder_lr,
        prior_loss_weight=args.prior_loss_weight,
        train_text_encoder=args.train_text_encoder,
        mixed_precision=args.mixed_precision,
        gradient_checkpointing=not args.no_gradient_checkpointing,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        use_8bit_adam=args.use_8bit_adam,
        cudnn_benchmark=not args.no_cudnn_benchmark,
        checkpoint_every=args.checkpoint_every,
        validate_every=args.validate_every,
        seed=args.seed,
        resume=not args.no_resume,
        device=args.device,
    )
    result = train_c2a2(config)
    if not result.main_process:  # one report per run, not one per process
        return 0
    print(
        json.dumps(
            {
                "out_dir": str(result.out_dir),
                "steps": result.steps,
                "resumed_from": result.resumed_from,
                "final_loss": result.losses[-1] if result.losses else None,
            },
            indent=2,
        )
    )
    return 0


def _point(args: argparse.Namespace):  # -> EmotionPoint
    from emo_app.emotion.space import EmotionPoint

    if args.emotion_class:
        return EmotionPoint.of_class(args.emotion_class, args.intensity)
    return EmotionPoint(args.valence, args.arousal, args.z)


def _generate(args: argparse.Namespace) -> int:
    from emo_app.generation.api import generate_for_point
    from emo_app.generation.pipeline import DEFAULT_TEMPLATE

    images = generate_for_point(
        _point(args),
        seeds=args.seeds,
        preset=args.preset,
        template=args.template or DEFAULT_TEMPLATE,
        mode=args.mode,
        allow_cpu_preview=args.cpu_preview,
        size=args.size,
        num_inference_steps=args.num_steps,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for seed, image in zip(args.seeds, images):
        path = out / f"c2a2_seed{seed}.png"
        image.save(path)
        print(path)
    return 0


def _walk(args: argparse.Namespace) -> int:
    from emo_app.generation import walks

    common = dict(
        out_dir=args.out,
        seed=args.seed,
        preset=args.preset,
        mode=args.mode,
        allow_cpu_preview=args.cpu_preview,
        size=args.size,
        num_inference_steps=args.num_steps,
    )
    if args.kind == "axis":
        result = walks.axis_walk_images(args.a, args.walk_steps, **common)
    elif args.kind == "circle":
        result = walks.circle_walk_images(args.tilt, args.start_angle, args.r, args.walk_steps, **common)
    else:
        result = walks.class_walk_images(args.a, args.b, args.walk_steps, **common)
    for path in result.paths():
        print(path)
    return 0


def _status(args: argparse.Namespace) -> int:
    from emo_app.generation.api import generator_status

    print(json.dumps(generator_status(), indent=2))
    return 0


def _sampling_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="paper (DDIM eta 0, 100 steps, guidance 10; the default), fast (DPM++ 25) "
                             "or preview")
    parser.add_argument("--mode", default="auto", choices=("auto", "number", "prompt"),
                        help="number: the C2A2 NumberEncoder; prompt: plain SD 1.4 with words; "
                             "auto: number when C2A2 weights are present")
    parser.add_argument("--cpu-preview", action="store_true", help="allow a small slow preview without a GPU")
    parser.add_argument("--size", type=int, default=None, help="image size in pixels (default: the preset's)")
    parser.add_argument("--num-steps", type=int, default=None, help="override the preset's sampling steps")


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train-c2a2", help="DreamBooth + NumberEncoder training of the C2A2 generator"
    )
    train.add_argument(
        "--data", required=True, help="folder of face images with labels.csv (file,valence,arousal,z)"
    )
    train.add_argument("--out", default="weights/c2a2-sd", help="pipeline folder to write")
    train.add_argument("--base", default="sd-1.4", help="resolver name or folder of the base pipeline")
    train.add_argument("--labels", default=None, help="labels CSV (default: DATA/labels.csv)")
    train.add_argument("--class-images", default=None, help="prior-preservation images (default: generate)")
    train.add_argument("--num-class-images", type=int, default=200, help="prior-preservation images")
    train.add_argument("--class-image-preset", default="paper",
                       help="sampler of the class images: paper (DDIM eta 0, 100 steps, guidance 10) "
                            "or fast")
    train.add_argument("--class-image-steps", type=int, default=None,
                       help="sampling steps per class image (default: the preset's)")
    train.add_argument("--resolution", type=int, default=512, help="training image size in pixels")
    train.add_argument("--batch-size", type=int, default=1, help="images per step and process")
    train.add_argument("--steps", type=int, default=800, help="optimisation steps")
    train.add_argument("--lr", type=float, default=1e-6, help="UNet/text encoder rate (paper: 1e-6)")
    train.add_argument("--number-encoder-lr", type=float, default=1e-4, help="NumberEncoder learning rate")
    train.add_argument("--prior-loss-weight", type=float, default=1.0, help="prior-preservation loss weight")
    train.add_argument("--train-text-encoder", action="store_true", help="also fine-tune the text encoder")
    train.add_argument("--mixed-precision", default="auto", choices=("auto", "no", "fp16", "bf16"),
                       help="auto: bf16 where the GPU has it, else fp16; no on CPU")
    train.add_argument("--no-gradient-checkpointing", action="store_true",
                       help="faster steps, more GPU memory")
    train.add_argument("--gradient-accumulation-steps", type=int, default=1,
                       help="micro-batches per optimizer step (global batch = batch size x processes x this)")
    train.add_argument("--use-8bit-adam", action="store_true", help="needs bitsandbytes installed")
    train.add_argument("--no-cudnn-benchmark", action="store_true",
                       help="skip cuDNN's search for the fastest convolution algorithms (on by default)")
    train.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    train.add_argument("--validate-every", type=int, default=100, help="steps between validation images")
    train.add_argument("--seed", type=int, default=0, help="seed of the training run")
    train.add_argument("--no-resume", action="store_true", help="ignore checkpoints in --out")
    train.add_argument("--device", default="auto",
                       help="cpu forces CPU; otherwise Accelerate places each process (accelerate launch)")
    train.set_defaults(func=_train)

    gen = subparsers.add_parser("generate-c2a2", help="images of a C2A2 emotion point")
    gen.add_argument("--valence", type=float, default=0.0, help="-1 unpleasant .. 1 pleasant")
    gen.add_argument("--arousal", type=float, default=0.0, help="-1 calm .. 1 excited")
    gen.add_argument("--z", type=float, default=0.0, help="the C2A2 third axis")
    gen.add_argument(
        "--class", dest="emotion_class", default=None, help="a class name instead of coordinates"
    )
    gen.add_argument("--intensity", type=float, default=1.0, help="with --class: 0 neutral .. 1 full")
    gen.add_argument("--seeds", type=int, nargs="+", default=[0], help="one image per seed")
    gen.add_argument("--template", default=None, help='e.g. "a photo of a <emo> person in front of a tree"')
    gen.add_argument("--out", default="c2a2_images", help="folder for the PNGs")
    _sampling_args(gen)
    gen.set_defaults(func=_generate)

    walk = subparsers.add_parser("walk-c2a2", help="axis, circle or between-classes walk: grid, GIF, MP4")
    walk.add_argument("kind", choices=("axis", "circle", "between"))
    walk.add_argument("--a", default="Happy", help="class for axis; first class for between")
    walk.add_argument("--b", default="Sad", help="second class for between")
    walk.add_argument("--tilt", "--theta", dest="tilt", type=float, default=0.0,
                      help="circle: tilt towards +Z in radians (the figures' theta)")
    walk.add_argument("--start-angle", "--phi", dest="start_angle", type=float, default=0.0,
                      help="circle: starting angle on the circle in radians (the figures' phi)")
    walk.add_argument("--r", type=float, default=0.8, help="circle: radius (0 neutral .. 1 full)")
    walk.add_argument("--walk-steps", type=int, default=9, help="images along the walk")
    walk.add_argument("--seed", type=int, default=0, help="the same seed for every image")
    walk.add_argument("--out", default=None, help="folder for the grid, GIF and MP4 (default: a new one)")
    _sampling_args(walk)
    walk.set_defaults(func=_walk)

    status = subparsers.add_parser("generator-status", help="weights, GPU and mode of the C2A2 generator")
    status.set_defaults(func=_status)
