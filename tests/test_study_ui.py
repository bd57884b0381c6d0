"""The Study tab builds inside gr.Blocks, and its handlers work when called as functions."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emo_app.config import Settings
from emo_app.emotion.space import EmotionPoint
from emo_app.study import service
from emo_app.study.db import StudyDB
from emo_app.ui.tabs import study as pages

RENDERED: list[EmotionPoint] = []


def fake_render(point: EmotionPoint) -> np.ndarray:
    """Stands in for the face renderer: an image whose colour encodes the point."""
    RENDERED.append(point)
    colour = np.clip((point.as_array() + 1) * 127.5, 0, 255).astype(np.uint8)
    return np.broadcast_to(colour, (16, 16, 3)).copy()


@pytest.fixture
def db(tmp_path: Path) -> StudyDB:
    return StudyDB(tmp_path / "study.sqlite3")


@pytest.fixture
def admin(db: StudyDB) -> str:
    token = service.create_admin_token(db)
    message = pages.ui_admin_create(db, token, "pilot", "points", seed=5)
    assert "630 items" in message
    return token


def test_tab_builds_and_every_event_has_an_api_name(db: StudyDB, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with gr.Blocks() as demo:
            with gr.Tab("Study"):
                build_study_tab(Settings())
    assert not [w for w in caught if "arguments for function" in str(w.message)]
    names = [fn.api_name for fn in demo.fns.values()]
    assert all(names) and len(set(names)) == len(names)
    assert {"study_vote", "study_change_vote", "study_show_item", "study_admin_results"} <= set(names)


def test_wired_vote_handler_commits_and_reports_errors_as_gradio_errors(
    db: StudyDB, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradio as gr

    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    monkeypatch.setattr(service, "default_point_renderer", lambda size: fake_render)
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    handlers = {fn.api_name: fn.fn for fn in demo.fns.values()}
    token, _ = pages.ui_sign_in(db, "pilot", "Ann", "")
    message, progress, *_ = handlers["study_vote"]("pilot", token, "3d", 1, 2, 4)
    assert "Saved" in message and "part 1: 1/63" in progress
    assert service.my_votes(db, "pilot", token) == {service.get_item(db, "pilot", "3d", 1, 2).id: 4}
    with pytest.raises(gr.Error, match="already rated"):
        handlers["study_vote"]("pilot", token, "3d", 1, 2, 5)
    with pytest.raises(gr.Error, match="admin token is not valid"):
        handlers["study_admin_results"]("wrong", "pilot")
    request = SimpleNamespace(query_params={"study": "pilot", "rater": token}, headers={})
    update, state, greeting, model, part, position, image, text, _, _, area = \
        handlers["study_open_link"](request)
    assert update["value"] == "pilot" and state == token and "Ann" in greeting and area.visible
    # the link lands on the rater's first unrated face: 3D part 1, item 1 (item 2 is rated)
    assert (model, part, position) == ("3d", 1, 1) and image is not None and "part 1, item 1" in text
    pages.ui_vote(db, "pilot", token, "3d", 1, 1, 3)
    assert handlers["study_open_link"](request)[3:6] == ("3d", 1, 3)


def test_the_rating_area_shows_once_a_rater_is_signed_in(
    db: StudyDB, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before signing in, the page shows the sign-in row only: no empty face box under buttons
    that could only answer "sign in first"."""
    import gradio as gr

    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    monkeypatch.setattr(service, "default_point_renderer", lambda size: fake_render)
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    area = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "study-rating")
    assert not area.visible
    assert any(getattr(block, "elem_id", None) == "study-face" for block in area.children[2].children)
    handlers = {fn.api_name: fn.fn for fn in demo.fns.values()}
    plain_visit = SimpleNamespace(query_params={}, headers={})
    assert handlers["study_open_link"](plain_visit)[-1] == gr.skip()  # it stays hidden
    assert handlers["study_first_item"]("pilot", "") == gr.skip()  # a refused sign-in leaves it so
    token, _ = handlers["study_sign_in"]("pilot", "Bo", "", None)
    shown = handlers["study_first_item"]("pilot", token)
    assert shown[-1].visible and "part 1, item 1" in shown[4]


def test_rater_flow_through_the_handlers(db: StudyDB, admin: str, tmp_path: Path) -> None:
    with pytest.raises(service.StudyAccessError):
        pages.ui_show_item(db, "pilot", "", "3d", 1, 1, render=fake_render)
    token, welcome = pages.ui_sign_in(db, "pilot", "  Ann  ", "", base_url="http://host/app?x=1")
    assert f"http://host/app?study=pilot&rater={token}" in welcome
    assert pages.ui_sign_in(db, "pilot", "", token)[1] == "Signed in as **Ann**."
    with pytest.raises(service.InvalidInputError, match="already taken"):
        pages.ui_sign_in(db, "pilot", "Ann", "")

    RENDERED.clear()
    image, text, mine, progress = pages.ui_show_item(db, "pilot", token, "2d", 1, 7, render=fake_render)
    item = service.get_item(db, "pilot", "2d", 1, 7)
    assert image.shape == (16, 16, 3) and RENDERED == [item.point] and item.point.z == 0.0
    assert f"**{item.nearest_class}**" in text and mine is None and "**2D AV** 0/315" in progress
    again = pages.ui_show_item(db, "pilot", token, "2d", 1, 7, render=fake_render)[0]
    assert RENDERED == [item.point] and np.array_equal(again, image)  # served from the PNG cache

    message, progress, _ = pages.ui_vote(db, "pilot", token, "2d", 1, 7, "3")
    assert "**3**" in message and "**2D AV** 1/315 (part 1: 1/63," in progress
    assert pages.ui_show_item(db, "pilot", token, "2d", 1, 7, render=fake_render)[2] == 3
    with pytest.raises(service.AlreadyVotedError):
        pages.ui_vote(db, "pilot", token, "2d", 1, 7, 4)
    assert "now **4**" in pages.ui_change_vote(db, "pilot", token, "2d", 1, 7, 4)[0]

    assert service.step_item(db, "pilot", "3d", 1, 63, 1) == (2, 1)  # across parts
    assert service.step_item(db, "pilot", "3d", 1, 1, -1) == (5, 63)  # wraps at the ends
    pages.ui_vote(db, "pilot", token, "2d", 1, 8, 5)
    assert service.next_unrated(db, "pilot", token, "2d", 1, 6) == (1, 9)

    link = pages.ui_open_link(db, {"study": "pilot", "rater": token})
    assert link == ("pilot", token, "Signed in as **Ann** for study 'pilot'.")
    chosen, state, message = pages.ui_open_link(db, {"study": "pilot", "rater": "forged"})
    assert (chosen, state) == (None, "") and "not valid" in message


def test_without_a_link_the_tab_says_what_to_do_instead_of_an_empty_list(db: StudyDB) -> None:
    """A first visit showed an empty Study list and nothing else to go on."""
    assert pages.ui_open_link(db, {}) == (None, "", pages.NO_STUDY_YET)
    token = service.create_admin_token(db)
    pages.ui_admin_create(db, token, "pilot", "points", seed=5)
    greeting = "Study 'pilot': enter your name and press *Start rating*."
    assert pages.ui_open_link(db, {}) == ("pilot", "", greeting)
    pages.ui_admin_create(db, token, "second", "points", seed=6)
    chosen, _, message = pages.ui_open_link(db, {})
    assert chosen is None and message.startswith("Pick a study")


def test_admin_handlers(db: StudyDB, admin: str, tmp_path: Path) -> None:
    link_text = pages.ui_admin_add_rater(db, admin, "pilot", "Bo", base_url="http://h/")
    token = link_text.split("rater=")[1].rstrip("`")
    pages.ui_vote(db, "pilot", token, "3d", 1, 1, 2)
    overview = pages.ui_admin_overview(db, admin)
    assert "| pilot | 630 | 1 | 1 |" in overview
    markdown, figure = pages.ui_admin_results(db, admin, "pilot")
    item = service.get_item(db, "pilot", "3d", 1, 1)
    assert f"| {item.nearest_class} |" in markdown and "2.00 (1)" in markdown
    assert len(figure.axes) == 1
    path = Path(pages.ui_admin_export(db, admin, "pilot", out_dir=tmp_path))
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["rater"], r["score"], r["nearest_class"]) for r in rows] == [("Bo", "2", item.nearest_class)]
    with pytest.raises(service.InvalidInputError, match="already exists"):
        pages.ui_admin_create(db, admin, "pilot", "points")


def test_the_admin_part_says_where_the_first_token_comes_from(db: StudyDB,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    monkeypatch.delenv(service.ADMIN_ENV_VAR, raising=False)
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    status = next(fn.fn for fn in demo.fns.values() if fn.api_name == "admin_state")
    assert "EMO_STUDY_ADMIN_TOKEN" in status() and "study admin-token" in status()  # nobody can unlock yet
    monkeypatch.setenv(service.ADMIN_ENV_VAR, "secret")
    assert status() == ""
    monkeypatch.delenv(service.ADMIN_ENV_VAR)
    service.create_admin_token(db)
    assert status() == ""


def test_buttons_pressed_before_a_study_is_picked_ask_for_one(db: StudyDB, admin: str) -> None:
    """An empty Study list reaches the handlers as None: the rater and the admin are told to
    pick a study, not that "there is no study called 'None'"."""
    for action in (lambda: pages.ui_show_item(db, None, "", "3d", 1, 1, render=fake_render),
                   lambda: pages.ui_vote(db, None, "", "3d", 1, 1, 3),
                   lambda: pages.ui_admin_results(db, admin, None),
                   lambda: pages.ui_admin_add_rater(db, admin, "  ", "Bo"),
                   lambda: pages.ui_sign_in(db, None, "", "")):  # the study first, before the name
        with pytest.raises(service.InvalidInputError, match="Choose a study in the Study list") as caught:
            action()
        assert "None" not in str(caught.value)


def test_a_new_study_is_picked_in_the_list_for_the_admin_next_steps(
    db: StudyDB, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After *Create study* the Study list (which *Add rater* and *Show results* act on) holds
    the new study and has it chosen."""
    import gradio as gr

    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    handlers = {fn.api_name: fn.fn for fn in demo.fns.values()}
    message = handlers["study_admin_create"](admin, " second ", "points", 1, "", "", "3d")
    assert "Created study 'second'" in message and "chosen in the Study list" in message
    update = handlers["study_list_after_create"](" second ")
    assert update["value"] == "second" and set(update["choices"]) >= {"pilot", "second"}
    assert "value" not in handlers["study_list"]()  # *Refresh studies* keeps the rater's choice


def test_the_results_chart_legend_covers_no_bar(db: StudyDB, admin: str) -> None:
    """The legend sat inside the axes, over the last classes' and the Overall bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = pages.ui_admin_results(db, admin, "pilot")[1]
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    (axes,) = figure.axes
    legends = figure.legends + [legend for legend in [axes.get_legend()] if legend is not None]
    assert len(legends) == 1
    assert not legends[0].get_window_extent(renderer).overlaps(axes.get_window_extent(renderer))
    assert "5 = perfectly" in axes.get_xlabel()  # the raters' scale, in the raters' words


def test_showing_another_face_clears_the_last_vote_message(db: StudyDB,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The message "Saved: you rated part 1, item 1 **4**." stayed on screen under the next face."""
    import gradio as gr

    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    fns = list(demo.fns.values())
    (vote,) = [fn for fn in fns if fn.api_name == "study_vote"]
    vote_text = vote.outputs[0]
    for shown in ("study_show_item", "study_previous_show", "study_next_show", "study_next_unrated_show"):
        (show,) = [fn for fn in fns if fn.api_name == shown]
        after = [fn for fn in fns if fn.trigger_after == show._id and fn.outputs == [vote_text]]
        assert len(after) == 1 and after[0].fn() == "", shown


def test_a_vote_updates_the_shown_items_own_line(db: StudyDB, admin: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """After *Submit vote* the item's text still said "You have not rated this face yet." beside
    "Saved: you rated ... **4**"; after *Change my vote* it still named the old score."""
    import gradio as gr

    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    monkeypatch.setattr(service, "default_point_renderer", lambda size: fake_render)
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    item_line = fns["study_show_item"].outputs[1]  # "What the face should show"
    assert item_line in fns["study_vote"].outputs and item_line in fns["study_change_vote"].outputs
    token, _ = pages.ui_sign_in(db, "pilot", "Ann", "")
    before = pages.ui_show_item(db, "pilot", token, "3d", 1, 2, render=fake_render)[1]
    assert "You have not rated this face yet." in before
    text = pages.ui_vote(db, "pilot", token, "3d", 1, 2, 4)[2]
    assert "You rated this face **4**." in text and "not rated" not in text
    assert text.split("  \n")[:3] == before.split("  \n")[:3]  # the same item, point and class
    answer = fns["study_change_vote"].fn("pilot", token, "3d", 1, 2, 2)
    assert "You rated this face **2**." in dict(zip(fns["study_change_vote"].outputs, answer))[item_line]


def test_a_first_vote_moves_on_to_the_next_face_to_rate(db: StudyDB, admin: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """After *Submit vote* the rated face stayed: on a phone the rater scrolled a screen up to
    *Next unrated* and back down to the scores for each of 630 faces. A refused vote stays put
    and says why on the vote line."""
    import gradio as gr

    from emo_app.ui.common import PAGE_HEADER
    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    monkeypatch.setattr(service, "default_point_renderer", lambda size: fake_render)
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    vote = next(fn for fn in demo.fns.values() if fn.api_name == "study_vote")
    names = {"Vote message": "message", "Model": "model", "Part": "part", "Item": "position",
             "Face": "image", "What the face should show": "text"}
    token, _ = pages.ui_sign_in(db, "pilot", "Ann", "")
    pages.ui_vote(db, "pilot", token, "3d", 1, 2, 4)

    def press(position: int, score: int, request: object = None) -> dict:
        answer = vote.fn("pilot", token, "3d", 1, position, score, request=request)
        return {names.get(out.label, out.label): value for out, value in zip(vote.outputs, answer)}

    shown = press(1, 5)
    assert shown["message"] == "Saved: you rated part 1, item 1 **5**."
    assert (shown["model"], shown["part"], shown["position"]) == ("3d", 1, 3)  # item 2 is rated already
    assert shown["image"] is not None and "part 1, item 3" in shown["text"] and "not rated" in shown["text"]
    page = SimpleNamespace(headers={PAGE_HEADER: "app"})
    refused = press(2, 5, request=page)  # already rated: stays on item 2, says why
    assert refused["message"].startswith("⚠️ You already rated this face")
    assert all(value == {"__type__": "update"} for key, value in refused.items() if key != "message")

    admin_token = service.create_admin_token(db)  # a small study: the 3D part done, then 2D
    service.create_study_from_points(db, admin_token, "small", parts=1, per_part=60)
    token, _ = pages.ui_sign_in(db, "small", "Bo", "")
    for position in range(1, 61):
        pages.ui_vote(db, "small", token, "3d", 1, position, 3)
    assert pages.ui_next_after_vote(db, "small", token, "3d", 1, 60) == ("2d", 1, 1)
    for position in range(1, 61):
        pages.ui_vote(db, "small", token, "2d", 1, position, 3)
    with pytest.raises(service.EmoAppError, match="rated every face in this study"):
        pages.ui_next_after_vote(db, "small", token, "2d", 1, 60)


def test_an_empty_admin_token_and_a_missing_part_get_their_own_sentences(db: StudyDB, admin: str,
                                                                        tmp_path: Path) -> None:
    """*Create study* before typing a token said "That admin token is not valid"; Part 9 (of 5)
    said "Part 9 of the 3D C2A2 model has no item 1", as if item 1 were the problem."""
    with pytest.raises(service.StudyAccessError, match=r"^No admin token was given\. Enter yours"):
        pages.ui_admin_create(db, "  ", "second", "points")
    with pytest.raises(service.StudyAccessError, match="not valid"):
        pages.ui_admin_create(db, "wrong", "second", "points")
    token, _ = pages.ui_sign_in(db, "pilot", "Ann", "")
    no_part = r"^There is no part 9: the 3D C2A2 model has parts 1 to 5\.$"
    with pytest.raises(service.InvalidInputError, match=no_part):
        pages.ui_vote(db, "pilot", token, "3d", 9, 1, 3)
    with pytest.raises(service.InvalidInputError, match=r"has items 1 to 63; there is no item 64\.$"):
        pages.ui_show_item(db, "pilot", token, "2d", 2, 64, render=fake_render)
    folder = tmp_path / "faces"  # a folder study shows one model only
    folder.mkdir()
    from PIL import Image

    Image.fromarray(fake_render(EmotionPoint(0.9, 0.1, 0.0))).save(folder / "a.png")
    (folder / "labels.csv").write_text("file,valence,arousal,z\na.png,0.9,0.1,0\n")
    pages.ui_admin_create(db, admin, "folder", "folder", folder=str(folder), model="3d")
    token, _ = pages.ui_sign_in(db, "folder", "Ann", "")
    no_model = r"^This study has no 2D AV items; choose the other model\.$"
    with pytest.raises(service.InvalidInputError, match=no_model):
        pages.ui_show_item(db, "folder", token, "2d", 1, 1, render=fake_render)


def test_each_admin_answer_sits_under_its_own_button(db: StudyDB, admin: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """*Create study* and *Add rater* answered on one line under *Unlock*: on a phone the rater's
    link appeared a screen above the button that made it. A refusal is said on that line too."""
    import gradio as gr

    from emo_app.ui.common import PAGE_HEADER
    from emo_app.ui.tabs.study import build_study_tab

    monkeypatch.setenv("EMO_STUDY_DB", str(db.path))
    with gr.Blocks() as demo:
        build_study_tab(Settings())
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    buttons = {b.value: b._id for b in demo.blocks.values() if isinstance(b, gr.Button)}
    (create_line,) = fns["study_admin_create"].outputs
    (rater_line,) = fns["study_admin_add_rater"].outputs
    assert buttons["Create study"] < create_line._id < buttons["Add rater and make a link"]
    assert buttons["Add rater and make a link"] < rater_line._id < buttons["Show results"]
    page = SimpleNamespace(headers={PAGE_HEADER: "app"})  # no url: the link would be relative
    refused = fns["study_admin_add_rater"].fn(admin, "pilot", "", request=page)
    assert refused == "⚠️ Enter a rater name."
    assert fns["study_admin_create"].fn(admin, "pilot", "points", 0, "", "", "3d", request=page).startswith(
        "⚠️ A study called 'pilot' already exists")
