"""The command line: `python -m emo_app COMMAND ...`.

Each area registers its own sub-commands through a ``register(subparsers)`` function in its
``cli`` module (listed in ``_AREAS``); those modules import nothing heavy at import time, so
`--help` is fast. Handlers return an exit code; ``EmoAppError`` and a file the user named that
cannot be read or written become a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from emo_app.cli_args import Parser, whole_number
from emo_app.errors import EmoAppError
from emo_app.models.training import end_process_group

# Modules with a `register(subparsers)` function, in help order.
_AREAS = (
    "emo_app.services_cli",
    "emo_app.face.cli",
    "emo_app.text.cli",
    "emo_app.metric.cli",
    "emo_app.generation.cli",
    "emo_app.study.cli",
    "emo_app.ganmut.cli",
)


EXAMPLES = """examples:
  python -m emo_app describe "a joyful smile" --out face.png --json face.json
  python -m emo_app sphere --point=0.5,0.2,-0.3 --out face.png
  python -m emo_app take "Ashamed, he hangs his head." --out-dir take
  python -m emo_app walk circle --steps 12 --out-dir walk
  python -m emo_app capture photo.jpg --json weights.json
  python -m emo_app weights list

`python -m emo_app COMMAND --help` shows a command's options and their defaults."""


def _path_problem(exc: OSError, args: argparse.Namespace) -> str | None:
    """The sentence for a file or folder the user named (or one inside or above it) that cannot
    be read or written; None for any other OSError (a fault, which keeps its traceback)."""
    failed = [Path(os.path.abspath(os.fsdecode(name))) for name in (exc.filename, exc.filename2)
              if isinstance(name, (str, bytes, os.PathLike))]
    here = Path.cwd()
    given = [(value, Path(os.path.abspath(value))) for dest, value in vars(args).items()
             if isinstance(value, str) and value.strip() and not dest.endswith("command")]
    for value, path in given:  # the very file or folder named
        if path in failed:
            return _why(exc, path, value)
    for value, path in given:  # a folder on its way ("out/a.png" where "out" is a file)
        if os.sep in value.strip(os.sep) and any(f in path.parents for f in failed):
            return _why(exc, next(f for f in failed if f in path.parents), value)
    for value, path in given:  # a file inside a folder named ("." does not claim every file)
        if path != here and path not in here.parents and any(path in f.parents for f in failed):
            return _why(exc, next(f for f in failed if path in f.parents), value)
    return None


def _why(exc: OSError, path: Path, given: str) -> str:
    source = "" if path == Path(os.path.abspath(given)) else f" (from '{given}')"
    if isinstance(exc, FileNotFoundError):
        return f"No such file or folder: '{path}'{source}."
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        blocker = next((p for p in (path, *path.parents) if p.is_file()), path)
        return f"'{blocker}' is a file, not a folder, so '{given}' cannot be written there."
    if isinstance(exc, IsADirectoryError):
        return f"'{path}' is a folder; give a file name{source}."
    if isinstance(exc, PermissionError):
        return f"Permission denied for '{path}'{source}."
    return f"Cannot use '{path}'{source}: {exc.strerror or exc}."


def _weights_list(args: argparse.Namespace) -> int:
    from emo_app.models.resolver import model_status

    rows = model_status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        mark = "present" if row["present"] else "missing"
        print(f"{row['name']:<{width}}  {mark:<7}  {row['description']}")
        print(f"{'':<{width}}  {'':<7}  {row['path'] or row['how']}")
    return 0


def _weights_fetch(args: argparse.Namespace) -> int:
    from emo_app.models.resolver import fetch

    path = fetch(args.name)
    print(path)
    return 0


def _settings(args: argparse.Namespace) -> int:
    from emo_app.config import Settings

    print(json.dumps(Settings.from_env().describe(), indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from emo_app.ui.app import launch

    launch(host=args.host, port=args.port, mcp=args.mcp, share=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m emo_app", description="Emotion Studio: text -> emotions -> a 3D face, "
                    "the C2A2 emotion space and the Emo3D metric.", epilog=EXAMPLES)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    weights = sub.add_parser("weights", help="list or fetch model weights")
    wsub = weights.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    wl = wsub.add_parser("list", help="every known model and whether it is present")
    wl.add_argument("--json", action="store_true", help="print the list as JSON")
    wl.set_defaults(func=_weights_list)
    wf = wsub.add_parser("fetch", help="download a model into weights/ (needs the internet)")
    wf.add_argument("name", help="a model name from `weights list`, e.g. clip-vit-b-32")
    wf.set_defaults(func=_weights_fetch)

    st = sub.add_parser("settings", help="print the settings read from the environment")
    st.set_defaults(func=_settings)

    serve = sub.add_parser("serve", help="run the Gradio app")
    serve.add_argument("--host", default=None, help="address to listen on (default: EMO_HOST)")
    serve.add_argument("--port", type=whole_number(1, 65535), default=None,
                       help="port to listen on (default: EMO_PORT, 7860)")
    serve.add_argument("--mcp", action="store_true", help="also expose the API as MCP tools")
    serve.set_defaults(func=_serve)

    for module_name in _AREAS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    finished = False
    try:
        code = int(args.func(args) or 0)
        finished = True
        return code
    except EmoAppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # unknown model names
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        sentence = _path_problem(exc, args)
        if sentence is None:
            raise
        print(f"error: {sentence}", file=sys.stderr)
        return 2
    finally:
        end_process_group(finished)
