"""The command line: `python -m emo_app COMMAND ...`.

Each area registers its own sub-commands through a ``register(subparsers)`` function in its
``cli`` module (listed in ``_AREAS``); those modules import nothing heavy at import time, so
`--help` is fast. Handlers return an exit code; ``EmoAppError`` becomes a one-line message.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence

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
    parser = argparse.ArgumentParser(prog="python -m emo_app", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    weights = sub.add_parser("weights", help="list or fetch model weights")
    wsub = weights.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    wl = wsub.add_parser("list", help="every known model and whether it is present")
    wl.add_argument("--json", action="store_true")
    wl.set_defaults(func=_weights_list)
    wf = wsub.add_parser("fetch", help="download a model into weights/ (needs the internet)")
    wf.add_argument("name")
    wf.set_defaults(func=_weights_fetch)

    st = sub.add_parser("settings", help="print the settings read from the environment")
    st.set_defaults(func=_settings)

    serve = sub.add_parser("serve", help="run the Gradio app")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
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
    try:
        return int(args.func(args) or 0)
    except EmoAppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # unknown model names
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    finally:
        end_process_group()
