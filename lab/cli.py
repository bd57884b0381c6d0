"""`python -m lab fidelity|tune`: the MediaPipe read-back of the photo rig and its tuning."""

from __future__ import annotations

import argparse
from pathlib import Path


def _reference_head(choice: str):
    """The reference head for ``fidelity``: ``auto`` uses the ICT-FaceKit head when it is on disk
    (never downloads), ``none`` skips it, anything else is resolved (a path or a model name)."""
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
    from lab.fidelity import measure, measure_reference, measure_together, write_report

    head = _reference_head(args.reference)
    rows = measure(size=args.size, texture_kind=args.texture)
    together = measure_together(size=args.size, texture_kind=args.texture)
    reference = measure_reference(head, "ICT-FaceKit", size=args.size) if head is not None else None
    print(write_report(rows, args.out, args.size, args.texture, together, reference))
    return 0


def _tune(args: argparse.Namespace) -> int:
    from emo_app.face.rig import load_tuning
    from lab.tuning import second_pass_shipped, tune, write_tuning

    if args.second_pass:
        path = write_tuning(second_pass_shipped())
    else:
        path = write_tuning(tune(previous=None if args.fresh else load_tuning()))
    print(f"wrote {path}; now run `python -m lab fidelity` to measure the tuned rig")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    fidelity = sub.add_parser("fidelity", help="read each shape back with MediaPipe; write FIDELITY.md")
    fidelity.add_argument("--out", default=str(Path(__file__).with_name("FIDELITY.md")))
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
    args = parser.parse_args(argv)
    return args.func(args)
