"""The Study tab: raters score one face at a time (1..5); admins create studies and see results.

The layout, the wiring and the words: the handlers (``ui_*``, at the end) turn the study
service's plain values into what a person reads, and are wrapped by ``ui_errors`` (a warning
toast on the page, a ``gr.Error`` for API callers). The rater's token lives in per-session
``gr.State``.

A rater's personal link is the page itself, ``<page>/?study=NAME&rater=TOKEN``: on load the
studio selects this tab (``emo_app.ui.app``), signs the rater in and shows their first
unrated item.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from emo_app.config import Settings
from emo_app.errors import EmoAppError
from emo_app.study import service
from emo_app.study.model import MODEL_LABELS, MODELS
from emo_app.ui.common import page_url, ui_errors

# The rater's own endpoints read the session's sign-in (a gr.State): a gradio_client session that
# called /study_sign_in can call them, but as MCP tools the State never changes (always signed
# out), and an agent has no place rating faces in a study of human experts. Off the API page too.
RATER_ENDPOINTS = "undocumented"
MODEL_CHOICES = [("3D C2A2", "3d"), ("2D AV (z = 0)", "2d")]
SOURCE_CHOICES = [("Generate 315 points (3D + 2D), render our face", "points"),
                  ("Folder of images + CSV file,valence,arousal,z", "folder")]

ADMIN_HELP = (
    "Admins create studies, enrol raters and see results. **Where the first admin token comes "
    "from:** set the secret `EMO_STUDY_ADMIN_TOKEN` where the app runs (on Hugging Face Spaces: "
    "*Settings → Variables and secrets → New secret*, then restart the Space), or run "
    "`python -m emo_app study admin-token` on the server, which prints a new token. Enter it "
    "below and press *Unlock*."
)
NO_STUDY_YET = ("No study is open on this server yet. An admin creates one under *Admin* at the "
                "bottom of this tab and sends each rater a personal link.")
NO_ADMIN_YET = ("⚠️ This server has no admin token yet, so nobody can unlock the admin part: set "
                "`EMO_STUDY_ADMIN_TOKEN` or run `python -m emo_app study admin-token` as said above.")


# after a vote on a phone the next face sits above the screen: bring its top into view (not
# after a refused vote, which stays on its face and says why)
SHOW_FACE_JS = ("() => { const line = document.getElementById('study-vote-text'); "
                "if (!line || !line.innerText.trim().startsWith('Saved')) return; "
                "const el = document.getElementById('study-face'); "
                "if (el && el.getBoundingClientRect().top < 0) el.scrollIntoView({block: 'start'}); }")


def _handler(fn: Callable[..., Any], api: str, on_its_line: bool = False) -> Callable[..., Any]:
    """``fn`` with our error handling, named for its API endpoint; ``on_its_line``: on the page a
    refusal also replaces the handler's one message line (else that line keeps the last success)."""
    wrapped = ui_errors(fn, page_answer=(lambda sentence: f"⚠️ {sentence}") if on_its_line else None)
    wrapped.__name__ = api
    return wrapped


def build_study_tab(settings: Settings) -> None:
    """Lay out the Study tab inside the caller's current ``gr.Tab`` context."""
    from emo_app.study.db import StudyDB, default_db_path

    db = StudyDB(default_db_path(settings))
    size = min(settings.render_size, 384)
    render = service.default_point_renderer(size)
    rater = _rater_layout(size)
    show_item = functools.partial(ui_show_item, db, render=render)
    list_studies = _study_lister(db)
    _wire_sign_in(db, rater, show_item, list_studies)
    _wire_rating(db, rater, show_item)
    admin = _admin_layout()
    _wire_admin(db, admin, rater.study, list_studies)


def _rater_layout(size: int) -> SimpleNamespace:
    """The rater's part of the page: sign-in, item navigation, the face and the vote buttons."""
    import gradio as gr

    gr.Markdown(
        "### Expert rating study\nRate how well each face shows the emotion named below, from 1 "
        "(not at all) to 5 (perfectly). Open the personal link you were sent, or pick a study and "
        "enter your name. Each face takes one vote (use *Change my vote* to correct it)."
    )
    ui = SimpleNamespace(token_state=gr.State(""))
    with gr.Row():
        # filled when the page loads; any name is accepted (API callers, studies created since),
        # and the service answers an unknown one with a sentence
        ui.study = gr.Dropdown(choices=[], label="Study", interactive=True,
                               allow_custom_value=True, elem_id="study-name")
        ui.refresh = gr.Button("Refresh studies", size="md", variant="secondary")
    with gr.Row():
        ui.rater_name = gr.Textbox(label="Your name (first visit)", max_lines=1)
        ui.rater_token = gr.Textbox(label="Your rater token (from your link)", type="password", max_lines=1)
        ui.sign_in = gr.Button("Start rating", variant="primary")
    ui.signed_in = gr.Markdown(label="Sign-in message", elem_id="study-signed-in")
    # shown once a rater is signed in: before that it was an empty face box under buttons that
    # could only answer "sign in first"
    with gr.Column(visible=False, elem_id="study-rating") as ui.rating_area:
        with gr.Row():
            ui.model = gr.Radio(MODEL_CHOICES, value="3d", label="Model")
            ui.part = gr.Number(value=1, minimum=1, precision=0, label="Part")
            ui.position = gr.Number(value=1, minimum=1, precision=0, label="Item")
        with gr.Row():
            ui.previous = gr.Button("◀ Previous")
            ui.show = gr.Button("Show item")
            ui.following = gr.Button("Next ▶")
            ui.next_unrated = gr.Button("Next unrated")
        with gr.Row():
            ui.image = gr.Image(label="Face", type="numpy", interactive=False, height=size,
                                elem_id="study-face")
            with gr.Column():
                ui.item_text = gr.Markdown(label="What the face should show", elem_id="study-item")
                ui.score = gr.Radio([1, 2, 3, 4, 5], label="Your rating (1 = not at all, 5 = perfectly)")
                with gr.Row():
                    ui.vote = gr.Button("Submit vote", variant="primary")
                    ui.change = gr.Button("Change my vote")
                ui.vote_text = gr.Markdown(label="Vote message", elem_id="study-vote-text")
        ui.progress = gr.Markdown(label="Your progress")
    ui.show_outputs = [ui.image, ui.item_text, ui.score, ui.progress]
    ui.show_inputs = [ui.study, ui.token_state, ui.model, ui.part, ui.position]
    return ui


def _study_lister(db: Any) -> Callable[..., Any]:
    """A handler that refills the Study dropdown with the studies there are now; given the name
    of one (a study just created), it also picks that one, so the admin's next steps (raters,
    results) act on it without a trip to the list."""
    import gradio as gr

    def list_studies(chosen: str | None = None) -> Any:
        names = service.study_names(db)
        chosen = (chosen or "").strip()
        return gr.update(choices=names, value=chosen) if chosen in names else gr.update(choices=names)

    return list_studies


def _wire_sign_in(db: Any, ui: SimpleNamespace, show_item: Callable[..., Any],
                  list_studies: Callable[[], Any]) -> None:
    """Page load (a rater's link), *Refresh studies* and *Start rating*: each ends on a face."""
    import gradio as gr

    show_outputs = ui.show_outputs

    def open_link(request: gr.Request) -> tuple:
        """The page was opened (maybe from a rater's link): sign in and show the first item."""
        query = dict(request.query_params) if request is not None else {}
        names = service.study_names(db)
        chosen, token, message = ui_open_link(db, query, names)
        picked = gr.update(choices=names, value=chosen) if chosen else gr.update(choices=names)
        if not token:
            return (picked, token, message, *[gr.skip()] * 3, *[gr.skip()] * len(show_outputs), gr.skip())
        where = service.first_unrated(db, chosen, token)
        if where is None:
            return (picked, token, message + " You have rated every face. Thank you!",
                    *[gr.skip()] * 3, *[gr.skip()] * len(show_outputs), gr.Column(visible=True))
        shown = show_item(chosen, token, *where)
        return (picked, token, message, *where, *shown, gr.Column(visible=True))

    gr.on(triggers=None, fn=_handler(open_link, "study_open_link"), inputs=None,
          outputs=[ui.study, ui.token_state, ui.signed_in, ui.model, ui.part, ui.position, *show_outputs,
                   ui.rating_area],
          api_name="study_open_link")
    ui.refresh.click(list_studies, outputs=ui.study, api_name="study_list")

    def do_sign_in(study_name: str, name: str, token: str, request: gr.Request) -> tuple[str, str]:
        return ui_sign_in(db, study_name, name, token, page_url(request))

    def first_item(study_name: str, token: str) -> tuple:
        """After signing in: the rater's first unrated face (nothing when sign-in failed)."""
        if not token:
            return gr.skip()
        where = service.first_unrated(db, study_name, token)
        if where is None:  # every face is rated: the area stays to change a vote
            return (*[gr.skip()] * (3 + len(show_outputs)), gr.Column(visible=True))
        return (*where, *show_item(study_name, token, *where), gr.Column(visible=True))

    ui.sign_in.click(_handler(do_sign_in, "study_sign_in"), [ui.study, ui.rater_name, ui.rater_token],
                     [ui.token_state, ui.signed_in], api_name="study_sign_in",
                     ).success(_handler(first_item, "study_first_item"), [ui.study, ui.token_state],
                               [ui.model, ui.part, ui.position, *show_outputs, ui.rating_area],
                               api_visibility="private")


def _wire_rating(db: Any, ui: SimpleNamespace, show_item: Callable[..., Any]) -> None:
    """Moving between items (each move shows the new face) and voting or changing a vote."""
    show_inputs, show_outputs = ui.show_inputs, ui.show_outputs
    show_handler = _handler(show_item, "study_show_item")

    def forget_last_vote(shown: Any) -> None:
        """A face shown clears the last vote's message (it named the previous face)."""
        shown.then(lambda: "", None, ui.vote_text, api_visibility="private", queue=False)

    forget_last_vote(ui.show.click(show_handler, show_inputs, show_outputs, api_name="study_show_item",
                                  api_visibility=RATER_ENDPOINTS))
    for button, step, api in ((ui.previous, -1, "study_previous"), (ui.following, 1, "study_next")):
        forget_last_vote(button.click(
            _handler(functools.partial(service.step_item, db, step=step), api),
            [ui.study, ui.model, ui.part, ui.position], [ui.part, ui.position], api_name=api,
        ).success(show_handler, show_inputs, show_outputs, api_name=f"{api}_show",
                  api_visibility=RATER_ENDPOINTS))
    forget_last_vote(ui.next_unrated.click(
        _handler(functools.partial(service.next_unrated, db), "study_next_unrated"), show_inputs,
        [ui.part, ui.position], api_name="study_next_unrated", api_visibility=RATER_ENDPOINTS,
    ).success(show_handler, show_inputs, show_outputs, api_name="study_next_unrated_show",
              api_visibility=RATER_ENDPOINTS))
    # A first vote moves on to the next face to rate in the same step (on a phone the navigation
    # sits a screen above the vote buttons); *Change my vote* stays on the face it changed. On the
    # page a refused vote is named on the vote line (a "Saved: ..." there would be the last one).
    import gradio as gr

    def vote_and_move(study: str, token: str, model: str, part: int, position: int, score: Any) -> tuple:
        """(message, progress, the shown item's text, model, part, position, image, my score)."""
        message, progress, text = ui_vote(db, study, token, model, part, position, score)
        try:
            where = ui_next_after_vote(db, study, token, model, part, position)
        except EmoAppError as done:  # every face is rated
            return (f"{message} {done}", progress, text, *[gr.skip()] * 5)
        image, text, mine, progress = show_item(study, token, *where)
        return (message, progress, text, *where, image, mine)

    def say_why_not(sentence: str, outputs: int = 8) -> tuple:
        return (f"⚠️ {sentence}", *[gr.skip()] * (outputs - 1))

    vote = ui_errors(vote_and_move, page_answer=say_why_not)
    vote.__name__ = "study_vote"
    after_vote = [ui.vote_text, ui.progress, ui.item_text, ui.model, ui.part, ui.position, ui.image, ui.score]
    ui.vote.click(vote, [*show_inputs, ui.score], after_vote, api_name="study_vote",
                  api_visibility=RATER_ENDPOINTS,
                  ).then(None, js=SHOW_FACE_JS, api_visibility="private", queue=False)
    change = ui_errors(functools.partial(ui_change_vote, db),
                       page_answer=functools.partial(say_why_not, outputs=3))
    change.__name__ = "study_change_vote"
    ui.change.click(change, [*show_inputs, ui.score], [ui.vote_text, ui.progress, ui.item_text],
                    api_name="study_change_vote", api_visibility=RATER_ENDPOINTS)


def _admin_layout() -> SimpleNamespace:
    """The closed *Admin* accordion: unlock, create a study, add raters, results and export."""
    import gradio as gr

    ui = SimpleNamespace()
    with gr.Accordion("Admin", open=False, elem_id="study-admin"):
        gr.Markdown(ADMIN_HELP)
        ui.admin_status = gr.Markdown(label="Admin status")
        with gr.Row():
            ui.admin_token = gr.Textbox(label="Admin token", type="password", max_lines=1, scale=3)
            ui.unlock = gr.Button("Unlock", variant="primary", scale=1)
        ui.admin_text = gr.Markdown(label="Admin message", elem_id="study-admin-text")
        gr.Markdown("#### Create a study")
        with gr.Row():
            ui.new_name = gr.Textbox(label="Study name", max_lines=1)
            ui.source = gr.Radio(SOURCE_CHOICES, value="points", label="Items")
            ui.seed = gr.Number(value=0, minimum=0, precision=0, label="Seed (generated points)")
        with gr.Row():
            ui.folder = gr.Textbox(label="Image folder (server path)", max_lines=1)
            ui.csv_path = gr.Textbox(label="CSV (optional; default: the folder's only .csv)", max_lines=1)
            ui.folder_model = gr.Radio(MODEL_CHOICES, value="3d", label="Folder images show")
        ui.create = gr.Button("Create study", variant="primary")
        # each answer sits under its own button (on a phone the line under *Unlock* is a screen up)
        ui.create_text = gr.Markdown(label="Create message", elem_id="study-create-text")
        gr.Markdown("#### Raters and results (for the study chosen above)")
        with gr.Row():
            ui.new_rater = gr.Textbox(label="Rater name", max_lines=1, scale=3)
            ui.add = gr.Button("Add rater and make a link", variant="primary", scale=1)
        ui.rater_text = gr.Markdown(label="Rater link", elem_id="study-rater-link")
        with gr.Row():
            ui.results = gr.Button("Show results", variant="secondary")
            ui.export = gr.Button("Export votes CSV", variant="secondary")
        ui.results_text = gr.Markdown(label="Results table")
        ui.chart = gr.Plot(label="Ratings per class")
        ui.export_file = gr.File(label="Votes CSV", interactive=False)
    return ui


def _wire_admin(db: Any, ui: SimpleNamespace, study: Any, list_studies: Callable[[], Any]) -> None:
    """The admin buttons; each checks the admin token (``study`` is the rater part's dropdown)."""
    import gradio as gr

    def admin_state() -> str:
        return "" if service.admin_configured(db) else NO_ADMIN_YET

    gr.on(triggers=None, fn=admin_state, outputs=ui.admin_status, api_visibility="private")
    overview = _handler(functools.partial(ui_admin_overview, db), "study_admin_overview", on_its_line=True)
    ui.unlock.click(overview, ui.admin_token, ui.admin_text, api_name="study_admin_overview")
    ui.create.click(
        _handler(functools.partial(ui_admin_create, db), "study_admin_create", on_its_line=True),
        [ui.admin_token, ui.new_name, ui.source, ui.seed, ui.folder, ui.csv_path, ui.folder_model],
        ui.create_text, api_name="study_admin_create",
    ).success(list_studies, inputs=ui.new_name, outputs=study, api_name="study_list_after_create")

    def do_add_rater(token: str, study_name: str, name: str, request: gr.Request) -> str:
        return ui_admin_add_rater(db, token, study_name, name, page_url(request))

    ui.add.click(_handler(do_add_rater, "study_admin_add_rater", on_its_line=True),
                 [ui.admin_token, study, ui.new_rater],
                 ui.rater_text, api_name="study_admin_add_rater")
    ui.results.click(_handler(functools.partial(ui_admin_results, db), "study_admin_results"),
                     [ui.admin_token, study], [ui.results_text, ui.chart], api_name="study_admin_results")
    ui.export.click(_handler(functools.partial(ui_admin_export, db), "study_admin_export"),
                    [ui.admin_token, study], ui.export_file, api_name="study_admin_export")


# ----------------------------------------------------------------------------- the words
# What the tab says, from the study service's plain values; each takes the database first.


def ui_open_link(db: Any, query: Mapping[str, str], names: list[str] | None = None,
                 ) -> tuple[str | None, str, str]:
    """A rater's link ``?study=..&rater=..`` -> (study, token, greeting); a bad link only explains.
    ``names``: the studies there are, when the caller has just listed them."""
    study, token = (query.get("study") or "").strip(), (query.get("rater") or "").strip()
    if not study:  # no link: say what to do here, rather than show an empty list
        names = service.study_names(db) if names is None else names
        if not names:
            return None, "", NO_STUDY_YET
        if len(names) == 1:
            return names[0], "", f"Study '{names[0]}': enter your name and press *Start rating*."
        return None, "", "Pick a study, enter your name and press *Start rating*."
    try:
        service.get_study(db, study)
    except EmoAppError as exc:
        return None, "", str(exc)
    if not token:
        return study, "", f"Study '{study}': enter your name and press *Start rating*."
    try:
        rater = service.rater_from_token(db, study, token)
    except EmoAppError as exc:
        return None, "", str(exc)
    return study, token, f"Signed in as **{rater.name}** for study '{study}'."


def ui_sign_in(db: Any, study: str, name: str, token: str, base_url: str = "") -> tuple[str, str]:
    """Token -> that rater; otherwise a new rater by name. Returns (token, message)."""
    if token and token.strip():
        rater = service.rater_from_token(db, study, token)
        return token.strip(), f"Signed in as **{rater.name}**."
    rater, new_token = service.join_study(db, study, name)
    return new_token, (
        f"Welcome, **{rater.name}**. Keep your personal link to come back and change votes: "
        f"`{service.rater_link(study, new_token, base_url)}` (your token: `{new_token}`)."
    )


def progress_text(db: Any, study: str, token: str) -> str:
    progress = service.rater_progress(db, study, token)
    parts = []
    for model in MODELS:
        if model in progress:
            done = sum(d for d, _ in progress[model].values())
            total = sum(n for _, n in progress[model].values())
            per_part = ", ".join(f"part {p}: {d}/{n}" for p, (d, n) in sorted(progress[model].items()))
            parts.append(f"**{MODEL_LABELS[model]}** {done}/{total} ({per_part})")
    return "Your progress: " + "; ".join(parts) if parts else "This study has no items yet."


def ui_show_item(
    db: Any, study: str, token: str, model: str, part: int, position: int,
    render: Callable[..., Any] | None = None, cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[Any, str, int | None, str]:
    """(image, what the item shows, my earlier score or None, my progress) for a signed-in rater."""
    service.rater_from_token(db, study, token)  # raters only; raises for anyone else
    item = service.get_item(db, study, model, int(part), int(position))
    note = ""
    try:
        image = service.item_image(db, item, render=render, cache_dir=cache_dir)
    except EmoAppError as exc:
        image, note = None, f"\n\n_Image unavailable: {exc}_"
    mine = service.my_votes(db, study, token).get(item.id)
    return image, item_text(item, mine) + note, mine, progress_text(db, study, token)


def item_text(item: Any, mine: int | None) -> str:
    """What the shown item asks the rater, ending with their vote on it (or that there is none)."""
    from emo_app.emotion.space import nearest_classes

    point = item.point
    distance = nearest_classes(point, 1, model=item.model)[0][1]
    flat = " (2D AV model: Z is 0)" if item.model == "2d" else ""
    return (
        f"**{MODEL_LABELS[item.model]}**, part {item.part}, item {item.position}{flat}  \n"
        f"Point: valence {point.valence:+.3f}, arousal {point.arousal:+.3f}, Z {point.z:+.3f}  \n"
        f"Emotion to judge (nearest class): **{item.nearest_class}** (distance {distance:.2f})  \n"
        f"How well does the face show this emotion? 1 = not at all, 5 = perfectly.  \n"
        + (f"You rated this face **{mine}**." if mine is not None else "You have not rated this face yet.")
    )


def ui_vote(db: Any, study: str, token: str, model: str, part: int, position: int,
            score: Any) -> tuple[str, str, str]:
    """Commit a first vote, then confirm it: (message, progress, the item's text with the vote:
    it said "You have not rated this face yet" beside "Saved")."""
    item = service.get_item(db, study, model, int(part), int(position))
    vote = service.cast_vote(db, study, token, item.id, score)
    return (f"Saved: you rated part {item.part}, item {item.position} **{vote.score}**.",
            progress_text(db, study, token), item_text(item, vote.score))


def ui_next_after_vote(db: Any, study: str, token: str, model: str, part: int,
                       position: int) -> tuple[str, int, int]:
    """(model, part, position) of the face to rate after a vote: the next unrated one of this
    model, else the first unrated one of the other model."""
    try:
        return (model, *service.next_unrated(db, study, token, model, part, position))
    except EmoAppError:
        where = service.first_unrated(db, study, token)
        if where is None:
            raise EmoAppError("You have rated every face in this study. Thank you!") from None
        return where


def ui_change_vote(db: Any, study: str, token: str, model: str, part: int, position: int,
                   score: Any) -> tuple[str, str, str]:
    """Explicitly replace the rater's vote on the shown item: (message, progress, the item's text)."""
    item = service.get_item(db, study, model, int(part), int(position))
    vote = service.change_vote(db, study, token, item.id, score)
    return (f"Changed: part {item.part}, item {item.position} is now **{vote.score}**.",
            progress_text(db, study, token), item_text(item, vote.score))


def ui_admin_overview(db: Any, admin_token: str) -> str:
    """Admins only: each study with its item, rater and vote counts, as a table."""
    rows = service.study_overview(db, admin_token)
    lines = ["| study | items | raters | votes |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['study']} | {r['items']} | {r['raters']} | {r['votes']} |" for r in rows]
    return "Admin unlocked.\n\n" + ("\n".join(lines) if rows else "No studies yet.")


def ui_admin_create(db: Any, admin_token: str, name: str, source: str, seed: Any = 0,
                    folder: str = "", csv_path: str = "", model: str = "3d") -> str:
    study = service.create_study(db, admin_token, name, source, seed, folder, csv_path, model)
    return (f"Created study '{study.name}' with {service.item_count(db, study.id)} items; "
            "it is now chosen in the Study list at the top.")


def ui_admin_add_rater(db: Any, admin_token: str, study: str, rater_name: str, base_url: str = "") -> str:
    rater, token = service.add_rater(db, admin_token, study, rater_name)
    link = service.rater_link(study, token, base_url)
    return f"Rater **{rater.name}** added. Send them this link: `{link}`"


def ui_admin_results(db: Any, admin_token: str, study: str) -> tuple[str, Any]:
    """(Table-1-style markdown, bar chart figure) for admins."""
    results = service.study_results(db, admin_token, study)
    return results.to_markdown(), results.bar_chart()


def ui_admin_export(db: Any, admin_token: str, study: str,
                    out_dir: str | os.PathLike[str] | None = None) -> str:
    """The votes CSV's path (for a download component)."""
    return str(service.export_votes(db, admin_token, study, out_dir))
