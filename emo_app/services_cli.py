"""CLI commands over emo_app.services: `describe`, `sphere`, `walk` and `capture` (same functions
as the UI)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def _save_image(image, path: str) -> None:
    from emo_app.face.export import save_png

    save_png(image, Path(path))
    print(f"wrote {path}")


def _describe(args: argparse.Namespace) -> int:
    from emo_app.services import describe

    result = describe(args.text, model=args.model, views=(args.view,), size=args.size, exports=bool(args.glb),
                      **_face_choices(args))
    data = result.to_dict()
    if args.out:
        _save_image(result.face.images[args.view], args.out)
    if args.glb:
        shutil.copyfile(result.face.files["glb"], args.glb)
        print(f"wrote {args.glb}")
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2))
        print(f"wrote {args.json}")
    if not (args.out or args.json or args.glb):
        print(json.dumps(data, indent=2))
    return 0


def _sphere(args: argparse.Namespace) -> int:
    from emo_app.errors import InvalidInputError
    from emo_app.services import parse_point, sphere_point

    if args.point:
        try:
            valence, arousal, z = (float(v) for v in args.point.split(","))
        except ValueError:
            raise InvalidInputError(
                f"--point takes three comma-separated numbers valence,arousal,z (e.g. 0.5,0.2,-0.3); "
                f"got {args.point!r}.") from None
        point = parse_point(valence, arousal, z)
    else:
        point = parse_point(theta=args.theta, phi=args.phi, r=args.r)
    result = sphere_point(point, size=args.size, generate=args.generate, seed=args.seed,
                          **_face_choices(args))
    if args.out:
        _save_image(result.face.images["front"], args.out)
    for i, image in enumerate(result.generated):
        path = Path(args.out or "sphere.png").with_name(f"generated_{i}.png")
        image.save(path)
        print(f"wrote {path}")
    print(json.dumps(result.to_dict(), indent=2))
    return 0


def _walk(args: argparse.Namespace) -> int:
    from emo_app.services import walk

    result = walk(args.kind, emotion=args.emotion, other=args.other, tilt=args.tilt,
                  start_angle=args.start_angle, r=args.r, steps=args.steps,
                  spherical=not args.straight, size=args.size)
    _copy_files(result.files, args.out_dir)
    return 0


def _copy_files(files: dict, folder: str) -> None:
    """Copy a result's files into ``folder`` (made if missing), saying each one."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for kind, path in files.items():
        target = out / Path(path).name
        shutil.copyfile(path, target)
        print(f"wrote {target} ({kind})")


def _capture(args: argparse.Namespace) -> int:
    if args.out_dir or args.text or args.own_face:
        payload = _capture_face(args)
    else:
        from emo_app.face.capture import capture_blendshapes
        from emo_app.face.photo_mesh import head_pose_from_landmarks

        result = capture_blendshapes(args.photo)
        pose = head_pose_from_landmarks(result.landmarks, result.image_size, expression=result.shapes)
        payload = {
            "message": result.message,
            "face_count": result.face_count,
            "blendshapes": result.shapes.to_dict(),
            "head_pose": pose.to_dict(),
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
    from emo_app import services

    outcome = services.capture(args.photo, text=args.text, use_photo_texture=args.own_face)
    files = {kind: str(path) for kind, path in outcome.face.files.items()}
    if args.out_dir:
        folder = Path(args.out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        files = {kind: str(shutil.copy2(path, folder / Path(path).name)) for kind, path in files.items()}
    return {"message": outcome.message, "blendshapes": outcome.shapes.to_dict(),
            "head_pose": outcome.face.pose.to_dict(), "files": files}


def _take(args: argparse.Namespace) -> int:
    """A take of a description, or of a weights file (a downloaded face's JSON keeps its head
    pose), copied into --out-dir."""
    from emo_app.errors import InvalidInputError
    from emo_app.face.cli import given_angles, read_face
    from emo_app.services_take import play_take, take_of_text

    if bool(args.text) == bool(args.weights):
        raise InvalidInputError("Give a description or --weights (a face's JSON), not both and not neither.")
    timing = {"rest": args.rest, "onset": args.onset, "hold": args.hold, "offset": args.offset,
              "fps": args.fps, "blink": not args.no_blink}
    options = {"timing": timing, "pace": args.pace, "view": args.view, "size": args.size,
               **_face_choices(args)}
    if args.text:
        result = take_of_text(args.text, model=args.model, angles=given_angles(args), **options)[1]
    else:
        shapes, pose = read_face(args)
        # a downloaded face's JSON is "<what it shows>-blendshapes.json", a take's "<...>-take.json"
        name = Path(args.weights).stem.removesuffix("-blendshapes").removesuffix("-take")
        result = play_take(shapes, pose=pose, name=name, emotion=_dominant(Path(args.weights)), **options)
    _copy_files(result.files, args.out_dir)
    seconds = (len(result.take) - 1) / result.timing.fps
    said = f"{result.expressions} expressions in turn, " if result.expressions > 1 else ""
    print(f"{said}{len(result.take)} frames at {result.timing.fps:g} fps, {seconds:.2f} s (onset "
          f"{result.timing.onset:g} s, offset {result.timing.offset:g} s); head: "
          f"{result.pose.describe() or 'straight ahead'}")
    return 0


def _dominant(weights_file: Path) -> str | None:
    """The strongest of the "emotions" a downloaded face's JSON stores (None without them): it
    paces the take as the description's would."""
    data = json.loads(weights_file.read_text())
    emotions = data.get("emotions") if isinstance(data, dict) else None
    if not isinstance(emotions, dict) or not emotions:
        return None
    numbers = {name: value for name, value in emotions.items() if isinstance(value, (int, float))}
    return max(numbers, key=numbers.__getitem__) if numbers else None


def _face_choices(args: argparse.Namespace) -> dict[str, str | None]:
    return {"head": args.head, "look": args.look, "tone": args.tone, "background": args.background}


def _add_face_options(parser: argparse.ArgumentParser) -> None:
    """Which head, skin and background the face is drawn with (defaults: the EMO_* settings)."""
    from emo_app.face.looks import BACKGROUNDS, HEADS, LOOKS
    from emo_app.face.skin import TONES

    parser.add_argument("--head", choices=HEADS, help="full (ICT-FaceKit, default) or mediapipe")
    parser.add_argument("--look", choices=LOOKS, help="skin (generated, default) or photo")
    parser.add_argument("--tone", choices=TONES, help="skin tone of the generated skin")
    parser.add_argument("--background", choices=tuple(BACKGROUNDS), help="light (default) or dark")


def register(sub: argparse._SubParsersAction) -> None:
    from emo_app.services import VIEWS

    d = sub.add_parser("describe", help="text -> emotions -> blendshapes -> face")
    d.add_argument("text", help='how the face feels, e.g. "a joyful smile" (English)')
    d.add_argument("--model", default="embedded", help="text model (see `text-models`)")
    d.add_argument("--out", help="PNG of the face")
    d.add_argument("--json", help="the prediction as JSON (emotions, blendshapes, point, reasons)")
    d.add_argument("--glb", help="GLB with the 52 ARKit morph targets")
    d.add_argument("--view", default="front", choices=VIEWS,
                   help="the view --out shows")
    d.add_argument("--size", type=int, default=None, help="pixels, 32 to 2048 (default: EMO_RENDER_SIZE)")
    _add_face_options(d)
    d.set_defaults(func=_describe)

    s = sub.add_parser("sphere", help="a C2A2 point -> nearest classes, emotions and the face")
    s.add_argument("--point", help="valence,arousal,z instead of the angles, e.g. --point=-0.5,0.2,0 "
                   "(write '=' when it starts with '-')")
    s.add_argument("--theta", type=float, default=0.0, help="azimuth (radians)")
    s.add_argument("--phi", type=float, default=0.0, help="elevation (radians)")
    s.add_argument("--r", type=float, default=1.0, help="radius: 0 neutral .. 1 full")
    s.add_argument("--generate", action="store_true", help="also generate an image (needs SD weights, GPU)")
    s.add_argument("--seed", type=int, default=0, help="seed of the generated image")
    s.add_argument("--out", help="PNG of the face (the JSON goes to the screen)")
    s.add_argument("--size", type=int, default=None, help="pixels, 32 to 2048 (default: EMO_RENDER_SIZE)")
    _add_face_options(s)
    s.set_defaults(func=_sphere)

    w = sub.add_parser("walk", help="axis, circle or between-classes walk as GIF/MP4/GLB/grid")
    w.add_argument("kind", choices=("axis", "circle", "classes"))
    w.add_argument("--emotion", default="Happy", help="class for axis walks; start class for classes")
    w.add_argument("--other", default="Sad", help="end class for classes walks")
    w.add_argument("--tilt", "--theta", dest="tilt", type=float, default=0.0,
                   help="circle: tilt towards +Z in radians (the figures' theta; the page and its API "
                   "take degrees)")
    w.add_argument("--start-angle", "--phi", dest="start_angle", type=float, default=0.0,
                   help="circle: starting angle on the circle in radians (the figures' phi; the page "
                   "and its API take degrees)")
    w.add_argument("--r", type=float, default=0.8, help="circle: radius (0 neutral .. 1 full)")
    w.add_argument("--steps", type=int, default=9, help="faces along the walk, 2 to 60 (as on the page)")
    w.add_argument("--straight", action="store_true", help="straight line instead of the great circle")
    w.add_argument("--size", type=int, default=256, help="pixels per face, 32 to 2048")
    w.add_argument("--out-dir", default="walk", help="folder for the GIF, MP4, GLB, Live Link Face CSV, "
                   "JSON and grid PNG, named after the walk (e.g. happy-axis-walk-9-steps.gif)")
    w.set_defaults(func=_walk)

    _register_take(sub)

    capture = sub.add_parser("capture", help="photo -> 52 ARKit blendshapes (MediaPipe)")
    capture.add_argument("photo", help="a photo of one face (PNG, JPEG, WebP or BMP)")
    capture.add_argument("--json", help="write the result to this JSON file (default: print it)")
    capture.add_argument("--out-dir", help="also render our face performing it and write its GLB (52 "
                                           "morph targets), Live Link Face CSV, JSON and PNG here")
    capture.add_argument("--text", help="a description for YOUR face (the photo's) to perform instead")
    capture.add_argument("--own-face", action="store_true", help="use the photo as the face's texture")
    capture.set_defaults(func=_capture)


def _register_take(sub: argparse._SubParsersAction) -> None:
    from emo_app.blendshapes.take import TakeTiming
    from emo_app.face.cli import add_pose_arguments
    from emo_app.services import VIEWS

    t = sub.add_parser("take", help="a face making its expression over time: MP4, animated GLB, 60 fps "
                                    "Live Link Face CSV, JSON")
    t.add_argument("text", nargs="?", help='a description, e.g. "Ashamed, he hangs his head."')
    t.add_argument("--weights", help="instead of a description: a face's JSON (ARKit name -> weight; a "
                                     "downloaded one keeps its head_pose)")
    t.add_argument("--model", default="embedded", help="text model for a description")
    defaults = TakeTiming()
    for phase, says in (("rest", "before the face moves"), ("hold", "at the full expression")):
        t.add_argument(f"--{phase}", type=float, default=getattr(defaults, phase),
                       help=f"seconds {says} (default {getattr(defaults, phase):g})")
    quick, slow = TakeTiming.paced("surprise"), TakeTiming.paced("sadness")
    for phase, says in (("onset", "from rest to the full expression"),
                        ("offset", "back to rest (0: end on it)")):
        t.add_argument(f"--{phase}", type=float, default=None,
                       help=f"seconds {says} (default: the emotion's pace, from {getattr(quick, phase):g} s "
                            f"for surprise to {getattr(slow, phase):g} s for sadness)")
    t.add_argument("--fps", type=float, default=defaults.fps,
                   help=f"frames a second of the MP4 and GLB, 1-60 (default {defaults.fps:g}; the CSV: 60)")
    t.add_argument("--pace", type=float, default=1.0,
                   help="times faster than the emotion's own pace, 0.5 to 2 (default 1)")
    t.add_argument("--no-blink", action="store_true", help="no blink in the hold")
    t.add_argument("--view", default="front", choices=VIEWS,
                   help="the camera's view of the video (default: front)")
    t.add_argument("--size", type=int, default=None, help="pixels, 32 to 2048 (default: EMO_RENDER_SIZE)")
    t.add_argument("--out-dir", default="take", help="folder for the files, named after the text or weights")
    _add_face_options(t)
    add_pose_arguments(t)
    t.set_defaults(func=_take)
