"""The command line as a user meets it: --help states every default, and bad input ends in one
sentence on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from emo_app.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (sub-)command's parser with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def _shown_default(action: argparse.Action) -> str | None:
    default = action.default
    if (not action.option_strings or default is None or default is False or default == ""
            or default is argparse.SUPPRESS):
        return None
    return " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


COMMANDS = list(_parsers(build_parser()))


@pytest.mark.parametrize("path, parser", COMMANDS, ids=[" ".join(p) or "top" for p, _ in COMMANDS])
def test_help_states_every_default(path, parser):
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        shown = _shown_default(action)
        if shown is None or "default" in (action.help or "").lower():
            continue
        assert f"(default: {shown})" in text, (path, action.option_strings)


def test_top_level_help_has_examples(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and 'python -m emo_app describe "a joyful smile"' in out


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(b"not a folder")
    return path


# (id, argv given a_file and tmp_path, a fragment of the one sentence)
BAD_INPUT = [
    ("export-into-a-file", lambda f, t: ["face", "export", "--out", f"{f}/face.glb"],
     "is a file, not a folder, so '{f}/face.glb' cannot be written there."),
    ("point-not-numbers", lambda f, t: ["sphere", "--point", "abc"],
     "--point takes three comma-separated numbers valence,arousal,z (e.g. 0.5,0.2,-0.3); got 'abc'."),
    ("port-negative", lambda f, t: ["serve", "--port", "-1"],
     "argument --port: must be a whole number from 1 to 65535; got -1"),
    ("benchmark-k-zero", lambda f, t: ["benchmark", "--k", "0", "--pool", f"{t}/none.csv"],
     "argument --k: must be a whole number of at least 1; got 0"),
    ("benchmark-alpha-nan", lambda f, t: ["benchmark", "--alpha", "nan", "--pool", f"{t}/none.csv"],
     "argument --alpha: must be a finite number above 0; got nan"),
    ("study-seed-negative", lambda f, t: ["study", "create", "--name", "s", "--seed", "-1", "--db",
                                          f"{t}/study.sqlite3"],
     "argument --seed: must be a whole number of at least 0; got -1"),
    ("evaluate-limit-text", lambda f, t: ["evaluate", "--data", f"{t}/none.csv", "--limit", "ten"],
     "argument --limit: must be a whole number of at least 0; got 'ten'"),
]


@pytest.mark.parametrize("make_argv, fragment", [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_ends_in_one_sentence_and_exit_code_2(make_argv, fragment, a_file, tmp_path, capsys):
    try:
        code = main(make_argv(a_file, tmp_path))
    except SystemExit as exc:  # argparse refuses before any handler runs
        code = exc.code
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert code == 2
    assert "Traceback" not in captured.err
    assert fragment.replace("{f}", str(a_file)) in last


def test_a_study_command_without_an_admin_token_says_how_to_give_one(tmp_path, monkeypatch, capsys):
    """It said "That admin token is not valid" (and named a UI box) when none was given."""
    monkeypatch.delenv("EMO_STUDY_ADMIN_TOKEN", raising=False)
    assert main(["study", "create", "--name", "s", "--db", str(tmp_path / "study.sqlite3")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: No admin token was given: pass --admin-token or set EMO_STUDY_ADMIN_TOKEN "
                   "(`python -m emo_app study admin-token` makes one).")


def test_a_missing_file_the_user_named_is_one_sentence(tmp_path, capsys):
    """A path the user gave that is not there: the sentence names it (no FileNotFoundError)."""
    from PIL import Image

    photo = tmp_path / "face.png"
    Image.new("RGB", (64, 64), (200, 120, 90)).save(photo)
    missing = tmp_path / "none.json"
    code = main(["score-face", "--image", str(photo), "--emotions", "sadness=1",
                 "--blendshapes", str(missing)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip() == f"error: No such file or folder: '{missing}'."


def test_a_folder_given_for_a_file_is_named_as_given(tmp_path, monkeypatch, capsys):
    """The sentence names the folder the user gave, not the command's name beside it."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 64), (200, 120, 90)).save("face.png")
    code = main(["score-face", "--image", "face.png", "--emotions", "sadness=1", "--blendshapes", "."])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"error: '{Path.cwd()}' is a folder; give a file name."


@pytest.mark.parametrize("text, sentence", [
    ("", "The description is empty; type a few words such as 'a joyful smile'."),
    ("1234 !!!", "The description has no words in it; describe the face in words."),
])
def test_a_text_without_words_is_refused_before_any_model_loads(text, sentence, monkeypatch, capsys):
    import emo_app.text

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded for a text without words")

    monkeypatch.setattr(emo_app.text, "get_text_model", no_model)
    assert main(["text", text]) == 2
    assert capsys.readouterr().err.strip() == f"error: {sentence}"


@pytest.mark.parametrize("name, data, sentence", [
    ("none.png", None, "No image file at '{path}'."),
    ("note.png", b"hello, I am text", "The file is not an image we can read (PNG, JPEG, WebP or BMP)."),
])
def test_capture_refuses_a_bad_photo_before_the_face_landmarker_loads(name, data, sentence, tmp_path,
                                                                       monkeypatch, capsys):
    from emo_app.face import capture

    def no_landmarker(*args, **kwargs):
        raise AssertionError("the face landmarker was loaded for a file that is no photo")

    monkeypatch.setattr(capture, "open_face_landmarker", no_landmarker)
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    assert main(["capture", str(path)]) == 2
    assert capsys.readouterr().err.strip() == "error: " + sentence.format(path=path)
