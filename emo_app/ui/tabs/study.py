"""The Study tab: raters score one face at a time (1..5); admins create studies and see results.

Only layout and wiring live here: every handler is a plain function in
``emo_app.study.service`` (``ui_*``), wrapped by ``ui_errors`` (a warning toast on the page,
a ``gr.Error`` for API callers). The rater's token lives in per-session ``gr.State``.

A rater's personal link is the page itself, ``<page>/?study=NAME&rater=TOKEN``: on load the
studio selects this tab (``emo_app.ui.app``), signs the rater in and shows their first
unrated item.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from emo_app.config import Settings
from emo_app.ui.common import page_url, ui_errors

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
NO_ADMIN_YET = ("⚠️ This server has no admin token yet, so nobody can unlock the admin part: set "
                "`EMO_STUDY_ADMIN_TOKEN` or run `python -m emo_app study admin-token` as said above.")


def _handler(fn: Callable[..., Any], api: str) -> Callable[..., Any]:
    """``fn`` with our error handling, named for its API endpoint."""
    wrapped = ui_errors(fn)
    wrapped.__name__ = api
    return wrapped


def build_study_tab(settings: Settings) -> None:
    """Lay out the Study tab inside the caller's current ``gr.Tab`` context."""
    import gradio as gr

    from emo_app.study import service
    from emo_app.study.db import StudyDB, default_db_path

    db = StudyDB(default_db_path(settings))
    size = min(settings.render_size, 384)
    render = service.default_point_renderer(size)

    gr.Markdown(
        "### Expert rating study\nRate how well each face shows the emotion named below, from 1 "
        "(not at all) to 5 (perfectly). Open the personal link you were sent, or pick a study and "
        "enter your name. Each face takes one vote (use *Change my vote* to correct it)."
    )
    token_state = gr.State("")
    with gr.Row():
        # filled when the page loads; any name is accepted (API callers, studies created since),
        # and the service answers an unknown one with a sentence
        study = gr.Dropdown(choices=[], label="Study", interactive=True,
                            allow_custom_value=True, elem_id="study-name")
        refresh = gr.Button("Refresh studies", size="md", variant="secondary")
    with gr.Row():
        rater_name = gr.Textbox(label="Your name (first visit)", max_lines=1)
        rater_token = gr.Textbox(label="Your rater token (from your link)", type="password", max_lines=1)
        sign_in = gr.Button("Start rating", variant="primary")
    signed_in = gr.Markdown(label="Sign-in message", elem_id="study-signed-in")
    with gr.Row():
        model = gr.Radio(MODEL_CHOICES, value="3d", label="Model")
        part = gr.Number(value=1, minimum=1, precision=0, label="Part")
        position = gr.Number(value=1, minimum=1, precision=0, label="Item")
    with gr.Row():
        previous = gr.Button("◀ Previous")
        show = gr.Button("Show item")
        following = gr.Button("Next ▶")
        next_unrated = gr.Button("Next unrated")
    with gr.Row():
        image = gr.Image(label="Face", type="numpy", interactive=False, height=size, elem_id="study-face")
        with gr.Column():
            item_text = gr.Markdown(label="What the face should show", elem_id="study-item")
            score = gr.Radio([1, 2, 3, 4, 5], label="Your rating (1 = not at all, 5 = perfectly)")
            with gr.Row():
                vote = gr.Button("Submit vote", variant="primary")
                change = gr.Button("Change my vote")
            vote_text = gr.Markdown(label="Vote message")
    progress = gr.Markdown(label="Your progress")

    show_outputs = [image, item_text, score, progress]
    show_inputs = [study, token_state, model, part, position]
    show_item = functools.partial(service.ui_show_item, db, render=render)

    def open_link(request: gr.Request) -> tuple:
        """The page was opened (maybe from a rater's link): sign in and show the first item."""
        query = dict(request.query_params) if request is not None else {}
        chosen, token, message = service.ui_open_link(db, query)
        names = service.ui_study_names(db)
        picked = gr.update(choices=names, value=chosen) if chosen else gr.update(choices=names)
        if not token:
            return (picked, token, message, *[gr.skip()] * 3, *[gr.skip()] * len(show_outputs))
        where = service.first_unrated(db, chosen, token)
        if where is None:
            return (picked, token, message + " You have rated every face. Thank you!",
                    *[gr.skip()] * 3, *[gr.skip()] * len(show_outputs))
        shown = show_item(chosen, token, *where)
        return (picked, token, message, *where, *shown)

    gr.on(triggers=None, fn=_handler(open_link, "study_open_link"), inputs=None,
          outputs=[study, token_state, signed_in, model, part, position, *show_outputs],
          api_name="study_open_link")

    def list_studies() -> Any:
        return gr.update(choices=service.ui_study_names(db))

    refresh.click(list_studies, outputs=study, api_name="study_list")

    def do_sign_in(study_name: str, name: str, token: str, request: gr.Request) -> tuple[str, str]:
        return service.ui_sign_in(db, study_name, name, token, page_url(request))

    sign_in.click(_handler(do_sign_in, "study_sign_in"), [study, rater_name, rater_token],
                  [token_state, signed_in], api_name="study_sign_in")

    show_handler = _handler(show_item, "study_show_item")
    show.click(show_handler, show_inputs, show_outputs, api_name="study_show_item")
    for button, step, api in ((previous, -1, "study_previous"), (following, 1, "study_next")):
        button.click(
            _handler(functools.partial(service.ui_navigate, db, step=step), api),
            [study, model, part, position], [part, position], api_name=api,
        ).success(show_handler, show_inputs, show_outputs, api_name=f"{api}_show")
    next_unrated.click(
        _handler(functools.partial(service.ui_next_unrated, db), "study_next_unrated"), show_inputs,
        [part, position], api_name="study_next_unrated",
    ).success(show_handler, show_inputs, show_outputs, api_name="study_next_unrated_show")
    vote.click(_handler(functools.partial(service.ui_vote, db), "study_vote"), [*show_inputs, score],
               [vote_text, progress], api_name="study_vote")
    change.click(_handler(functools.partial(service.ui_change_vote, db), "study_change_vote"),
                 [*show_inputs, score], [vote_text, progress], api_name="study_change_vote")

    with gr.Accordion("Admin", open=False, elem_id="study-admin"):
        gr.Markdown(ADMIN_HELP)
        admin_status = gr.Markdown(label="Admin status")
        with gr.Row():
            admin_token = gr.Textbox(label="Admin token", type="password", max_lines=1, scale=3)
            unlock = gr.Button("Unlock", variant="primary", scale=1)
        admin_text = gr.Markdown(label="Admin message", elem_id="study-admin-text")
        gr.Markdown("#### Create a study")
        with gr.Row():
            new_name = gr.Textbox(label="Study name", max_lines=1)
            source = gr.Radio(SOURCE_CHOICES, value="points", label="Items")
            seed = gr.Number(value=0, precision=0, label="Seed (generated points)")
        with gr.Row():
            folder = gr.Textbox(label="Image folder (server path)", max_lines=1)
            csv_path = gr.Textbox(label="CSV (optional; default: the folder's only .csv)", max_lines=1)
            folder_model = gr.Radio(MODEL_CHOICES, value="3d", label="Folder images show")
        create = gr.Button("Create study", variant="primary")
        gr.Markdown("#### Raters and results (for the study chosen above)")
        with gr.Row():
            new_rater = gr.Textbox(label="Rater name", max_lines=1, scale=3)
            add = gr.Button("Add rater and make a link", variant="primary", scale=1)
        with gr.Row():
            results = gr.Button("Show results", variant="secondary")
            export = gr.Button("Export votes CSV", variant="secondary")
        results_text = gr.Markdown(label="Results table")
        chart = gr.Plot(label="Ratings per class")
        export_file = gr.File(label="Votes CSV", interactive=False)

    def admin_state() -> str:
        return "" if service.admin_configured(db) else NO_ADMIN_YET

    gr.on(triggers=None, fn=admin_state, outputs=admin_status, api_visibility="private")
    unlock.click(_handler(functools.partial(service.ui_admin_overview, db), "study_admin_overview"),
                 admin_token, admin_text, api_name="study_admin_overview")
    create.click(
        _handler(functools.partial(service.ui_admin_create, db), "study_admin_create"),
        [admin_token, new_name, source, seed, folder, csv_path, folder_model], admin_text,
        api_name="study_admin_create",
    ).success(list_studies, outputs=study, api_name="study_list_after_create")

    def do_add_rater(token: str, study_name: str, name: str, request: gr.Request) -> str:
        return service.ui_admin_add_rater(db, token, study_name, name, page_url(request))

    add.click(_handler(do_add_rater, "study_admin_add_rater"), [admin_token, study, new_rater], admin_text,
              api_name="study_admin_add_rater")
    results.click(_handler(functools.partial(service.ui_admin_results, db), "study_admin_results"),
                  [admin_token, study], [results_text, chart], api_name="study_admin_results")
    export.click(_handler(functools.partial(service.ui_admin_export, db), "study_admin_export"),
                 [admin_token, study], export_file, api_name="study_admin_export")
