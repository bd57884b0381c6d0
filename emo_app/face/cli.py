"""`python -m emo_app face render|export` (`capture PHOTO` is in emo_app.services_cli: it
renders through the services).
Imports stay inside the handlers so `--help` is fast."""

from __future__ import annotations

import argparse
from pathlib import Path


def read_face(args: argparse.Namespace) -> tuple:
    """(weights, head pose) from --weights (a JSON of ARKit name -> weight, or a downloaded face's
    with its "head_pose"; default: neutral, at rest), each angle replaced by --yaw, --pitch or
    --roll when given."""
    from emo_app.blendshapes import Blendshapes
    from emo_app.blendshapes.io import from_json, pose_from_json
    from emo_app.blendshapes.pose import HeadPose
    from emo_app.errors import InvalidInputError

    shapes, stored = Blendshapes.zeros(), HeadPose()
    if args.weights:
        file = Path(args.weights)
        if not file.is_file():
            raise InvalidInputError(
                f"No weights file at '{file}'; give a JSON object of ARKit name -> weight.")
        text = file.read_text()
        shapes, stored = from_json(text), pose_from_json(text)
    return shapes, HeadPose(**{**stored.to_dict(), **given_angles(args)})


def given_angles(args: argparse.Namespace) -> dict[str, float]:
    """The head angles given as --yaw, --pitch and --roll (``add_pose_arguments``), by name."""
    return {axis: value for axis in ("yaw", "pitch", "roll") if (value := getattr(args, axis)) is not None}


def _texture(kind: str | None):
    if kind in (None, "", "none"):
        return None
    from emo_app.face.texture import default_texture, texture_from_photo

    return default_texture() if kind == "default" else texture_from_photo(kind)


def _render(args: argparse.Namespace) -> int:
    from emo_app.face import get_face_renderer
    from emo_app.face.export import save_png

    shapes, pose = read_face(args)
    background = None if args.transparent else (255, 255, 255)
    image = get_face_renderer().render(
        shapes, view=args.view, size=args.size, background=background, texture=_texture(args.texture),
        pose=pose,
    )
    print(save_png(image, args.out))
    return 0


def _export(args: argparse.Namespace) -> int:
    from emo_app.errors import InvalidInputError
    from emo_app.face.export import export_glb
    from emo_app.face.export_obj import export_obj

    shapes, pose = read_face(args)
    suffix = Path(args.out).suffix.lower()
    if suffix == ".glb":
        print(export_glb(shapes, args.out, texture=_texture(args.texture), pose=pose))
    elif suffix == ".obj":
        print(export_obj(shapes, args.out, pose=pose))
    else:
        raise InvalidInputError(f"Export to .glb or .obj; got '{args.out}'.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    face = subparsers.add_parser("face", help="render or export the 3D face")
    sub = face.add_subparsers(dest="face_command", metavar="ACTION", required=True)

    texture_help = "'default' (astronaut photo), 'none' (clean skin) or a face photo"
    render = sub.add_parser("render", help="render weights to a PNG")
    render.add_argument("--weights", help="JSON of ARKit name -> weight (default: neutral)")
    render.add_argument("--out", required=True, help="output .png")
    render.add_argument("--view", default="front", choices=["front", "three_quarter", "profile"],
                        help="camera angle")
    render.add_argument("--size", type=int, default=None, help="pixels (default EMO_RENDER_SIZE)")
    render.add_argument("--texture", default="none", help=texture_help)
    render.add_argument("--transparent", action="store_true", help="transparent background (RGBA)")
    add_pose_arguments(render)
    render.set_defaults(func=_render)

    export = sub.add_parser("export", help="export a GLB with 52 morph targets, or a posed OBJ")
    export.add_argument("--weights", help="JSON of ARKit name -> weight (default: neutral)")
    export.add_argument("--out", required=True, help="output .glb or .obj")
    export.add_argument("--texture", default="none", help=texture_help)
    add_pose_arguments(export)
    export.set_defaults(func=_export)


def add_pose_arguments(parser: argparse.ArgumentParser) -> None:
    from emo_app.blendshapes.pose import POSE_LIMITS

    says = {"yaw": "+ turns to the face's left", "pitch": "+ raises the chin",
            "roll": "+ tilts to the left shoulder"}
    for axis, limit in POSE_LIMITS.items():
        parser.add_argument(f"--{axis}", type=float, default=None,
                            help=f"head {axis} in degrees, {-limit:g} to {limit:g}, {says[axis]} "
                                 "(default: the weights JSON's head_pose, else 0)")
