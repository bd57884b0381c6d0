"""What a newcomer copies from the docs works: every `python -m emo_app ...` command in the
README, DEVELOPERS.md, weights/README.md, `--help` and the missing-weights hints parses, and
every relative link points at a file that exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from emo_app.cli import EXAMPLES, build_parser
from emo_app.models.registry import KNOWN_MODELS
from emo_app.models.resolver import _fetch_command

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "DEVELOPERS.md", "weights/README.md")
COMMAND = re.compile(r"-m emo_app\s+([^`\n;&#|]+)")


def _commands(text: str) -> list[str]:
    """The arguments after each `-m emo_app` (shell line continuations joined)."""
    text = text.replace("\\\n", " ")
    return [m.group(1).strip() for m in COMMAND.finditer(text) if not m.group(1).startswith("COMMAND")]


def _documented_commands() -> list[tuple[str, str]]:
    found = [(doc, cmd) for doc in DOCS for cmd in _commands((ROOT / doc).read_text())]
    found += [("--help", cmd) for cmd in _commands(EXAMPLES)]
    for spec in KNOWN_MODELS.values():
        found += [(f"weights hint {spec.name}", cmd) for cmd in _commands(_fetch_command(spec))]
    return found


@pytest.mark.parametrize("where, command", _documented_commands())
def test_documented_command_parses(where, command):
    parser, words = build_parser(), shlex.split(command)
    if len(words) == 1:  # prose naming a command ("`python -m emo_app train` writes ..."): it exists
        commands = next(a for a in parser._actions if a.dest == "command").choices
        assert words[0] in [*commands, "..."], f"{where}: no command `{words[0]}`"
        return
    try:
        parser.parse_args(words)
    except SystemExit as stop:  # --help exits 0; a wrong flag or a missing argument exits 2
        assert stop.code == 0, f"{where}: `python -m emo_app {command}` is refused by the CLI"


@pytest.mark.parametrize("doc", ["README.md", "DEVELOPERS.md", "weights/README.md", "lab/README.md"])
def test_relative_links_exist(doc):
    path = ROOT / doc
    for target in re.findall(r"\]\(([^)#\s]+)", path.read_text()):
        if "://" not in target:
            assert (path.parent / target).exists(), f"{doc} links to {target}, which does not exist"


@pytest.mark.parametrize("doc", DOCS)
def test_code_the_docs_name_by_its_full_path_exists(doc):
    """The README's limits table named `emo_app.services.MAX_WALK_STEPS` after the constant had
    moved: a reader looking it up found nothing."""
    import importlib

    for reference in re.findall(r"`(emo_app(?:\.\w+)+)`", (ROOT / doc).read_text()):
        parts = reference.split(".")
        for split in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                found = importlib.import_module(".".join(parts[:split]))
                break
            except ImportError:
                continue
        for name in parts[split:]:
            assert hasattr(found, name), f"{doc} names `{reference}`, which does not exist"
            found = getattr(found, name)


def test_weights_readme_names_every_model_file():
    table = (ROOT / "weights" / "README.md").read_text()
    for spec in KNOWN_MODELS.values():
        assert spec.local_name in table, spec.name
