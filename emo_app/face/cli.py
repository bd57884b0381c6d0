"""`python -m emo_app face render|export|fidelity|tune` and `python -m emo_app capture PHOTO`.
Imports stay inside the handlers so `--help` is fast."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _read_weights(path: str | None):
    from emo_app.blendshapes import Blendshapes
    from emo_app.blendshapes.io import from_json
    from emo_app.errors import InvalidInputError

    if not path:
        return Blendshapes.zeros()
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"No weights file at '{file}'; give a JSON object of ARKit name -> weight.")
    return from_json(file.read_text())


def _texture(kind: str | None):
    if kind in (None, "", "none"):
        return None
    from emo_app.face.texture import default_texture, texture_from_photo

    return default_texture() if kind == "default" else texture_from_photo(kind)


def _render(args: argparse.Namespace) -> int:
    from emo_app.face import get_face_renderer
    from emo_app.face.export import save_png

    shapes = _read_weights(args.weights)
    background = None if args.transparent else (255, 255, 255)
    image = get_face_renderer().render(
        shapes, view=args.view, size=args.size, background=background, texture=_texture(args.texture)
    )
    print(save_png(image, args.out))
    return 0


def _export(args: argparse.Namespace) -> int:
    from emo_app.errors import InvalidInputError
    from emo_app.face.export import export_glb, export_obj

    shapes = _read_weights(args.weights)
    suffix = Path(args.out).suffix.lower()
    if suffix == ".glb":
        print(export_glb(shapes, args.out, texture=_texture(args.texture)))
    elif suffix == ".obj":
        print(export_obj(shapes, args.out))
    else:
        raise InvalidInputError(f"Export to .glb or .obj; got '{args.out}'.")
    return 0


def _reference_head(choice: str):
    """The reference head for ``face fidelity``: ``auto`` uses the ICT-FaceKit head when it is on
    disk (never downloads), ``none`` skips it, anything else is resolved (a path or a model name)."""
    from emo_app.errors import MissingWeightsError
    from emo_app.face.hd_head import load_hd_head
    from emo_app.models.resolver import resolve

    if choice == "none":
        return None
    try:
        path = resolve("ict-facekit" if choice == "auto" else choice, allow_download=choice != "auto")
    except MissingWeightsError as exc:
        if choice != "auto":
            raise
        print(f"no reference head table: {exc}")
        return None
    return load_hd_head(path)


def _fidelity(args: argparse.Namespace) -> int:
    from emo_app.face.fidelity import measure, measure_reference, measure_together, write_report

    head = _reference_head(args.reference)
    rows = measure(size=args.size, texture_kind=args.texture)
    together = measure_together(size=args.size, texture_kind=args.texture)
    reference = measure_reference(head, "ICT-FaceKit", size=args.size) if head is not None else None
    print(write_report(rows, args.out, args.size, args.texture, together, reference))
    return 0


def _tune(args: argparse.Namespace) -> int:
    from emo_app.face.tuning import load_tuning, second_pass_shipped, tune, write_tuning

    if args.second_pass:
        path = write_tuning(second_pass_shipped())
    else:
        path = write_tuning(tune(previous=None if args.fresh else load_tuning()))
    print(f"wrote {path}; now run `python -m emo_app face fidelity` to measure the tuned rig")
    return 0


def _capture(args: argparse.Namespace) -> int:
    from emo_app.face.capture import capture_blendshapes

    result = capture_blendshapes(args.photo)
    payload = {
        "message": result.message,
        "face_count": result.face_count,
        "blendshapes": result.shapes.to_dict(),
    }
    text = json.dumps(payload, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
        print(f"{result.message}; wrote {args.json}")
    else:
        print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    face = subparsers.add_parser("face", help="render, export or check the 3D face")
    sub = face.add_subparsers(dest="face_command", metavar="ACTION", required=True)

    texture_help = "'default' (astronaut photo), 'none' (clean skin) or a face photo"
    render = sub.add_parser("render", help="render weights to a PNG")
    render.add_argument("--weights", help="JSON of ARKit name -> weight (default: neutral)")
    render.add_argument("--out", required=True, help="output .png")
    render.add_argument("--view", default="front", choices=["front", "three_quarter", "profile"])
    render.add_argument("--size", type=int, default=None, help="pixels (default EMO_RENDER_SIZE)")
    render.add_argument("--texture", default="none", help=texture_help)
    render.add_argument("--transparent", action="store_true", help="transparent background (RGBA)")
    render.set_defaults(func=_render)

    export = sub.add_parser("export", help="export a GLB with 52 morph targets, or a posed OBJ")
    export.add_argument("--weights", help="JSON of ARKit name -> weight (default: neutral)")
    export.add_argument("--out", required=True, help="output .glb or .obj")
    export.add_argument("--texture", default="none", help=texture_help)
    export.set_defaults(func=_export)

    fidelity = sub.add_parser("fidelity", help="read each shape back with MediaPipe; write FIDELITY.md")
    fidelity.add_argument("--out", default="FIDELITY.md")
    fidelity.add_argument("--size", type=int, default=512)
    fidelity.add_argument("--texture", default="default", choices=["default", "none"])
    fidelity.add_argument(
        "--reference", default="auto",
        help="an ICT-FaceKit npz (path or 'ict-facekit') to read back the same way; 'auto' uses it "
        "when it is on disk, 'none' skips it",
    )
    fidelity.set_defaults(func=_fidelity)

    tune_cmd = sub.add_parser("tune", help="re-tune the rig against MediaPipe (writes rig_tuning.json)")
    tune_cmd.add_argument("--fresh", action="store_true",
                          help="also recompute MediaPipe's ceilings (a few minutes) instead of reusing them")
    tune_cmd.add_argument("--second-pass", action="store_true",
                          help="only steps 5-6 on the shipped tuning: larger gains and a wider "
                          "search, folds relaxed, for shapes that still miss")
    tune_cmd.set_defaults(func=_tune)

    capture = subparsers.add_parser("capture", help="photo -> 52 ARKit blendshapes (MediaPipe)")
    capture.add_argument("photo")
    capture.add_argument("--json", help="write the result to this JSON file")
    capture.set_defaults(func=_capture)
