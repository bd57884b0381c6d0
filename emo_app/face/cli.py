"""`python -m emo_app face render|export` and `python -m emo_app capture PHOTO`.
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


def _capture(args: argparse.Namespace) -> int:
    if args.out_dir or args.text or args.own_face:
        payload = _capture_face(args)
    else:
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
        print(f"{payload['message'].rstrip('.')}; wrote {args.json}")
    else:
        print(text)
    return 0


def _capture_face(args: argparse.Namespace) -> dict:
    """The Capture tab's result: our face performing the photo's expression (or ``--text`` on
    the user's own face), its files copied into ``--out-dir`` (GLB, Live Link Face CSV, JSON, PNG)."""
    import shutil

    from emo_app import services

    outcome = services.capture(args.photo, text=args.text, use_photo_texture=args.own_face)
    files = {kind: str(path) for kind, path in outcome.face.files.items()}
    if args.out_dir:
        folder = Path(args.out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        files = {kind: str(shutil.copy2(path, folder / Path(path).name)) for kind, path in files.items()}
    return {"message": outcome.message, "blendshapes": outcome.shapes.to_dict(), "files": files}


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
    render.set_defaults(func=_render)

    export = sub.add_parser("export", help="export a GLB with 52 morph targets, or a posed OBJ")
    export.add_argument("--weights", help="JSON of ARKit name -> weight (default: neutral)")
    export.add_argument("--out", required=True, help="output .glb or .obj")
    export.add_argument("--texture", default="none", help=texture_help)
    export.set_defaults(func=_export)

    capture = subparsers.add_parser("capture", help="photo -> 52 ARKit blendshapes (MediaPipe)")
    capture.add_argument("photo", help="a photo of one face (PNG, JPEG, WebP or BMP)")
    capture.add_argument("--json", help="write the result to this JSON file (default: print it)")
    capture.add_argument("--out-dir", help="also render our face performing it and write its GLB (52 "
                                           "morph targets), Live Link Face CSV, JSON and PNG here")
    capture.add_argument("--text", help="a description for YOUR face (the photo's) to perform instead")
    capture.add_argument("--own-face", action="store_true", help="use the photo as the face's texture")
    capture.set_defaults(func=_capture)
