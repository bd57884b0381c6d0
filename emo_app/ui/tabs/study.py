"""The Study tab: raters score one face at a time (1..5); admins create studies and see results.

Only layout and wiring live here: every handler is a plain function in
``emo_app.study.service`` (``ui_*``), wrapped so that an ``EmoAppError`` becomes a ``gr.Error``
with the same sentence. The rater's token lives in per-session ``gr.State``.
"""

import functools
from collections.abc import Callable
from typing import Any

from emo_app.config import Settings
from emo_app.errors import EmoAppError

MODEL_CHOICES = [("3D C2A2", "3d"), ("2D AV (z = 0)", "2d")]
SOURCE_CHOICES = [("Generate 315 points (3D + 2D), render our face", "points"),
                  ("Folder of images + CSV file,valence,arousal,z", "folder")]


def _shown_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show our errors as a Gradio error toast with the same message."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EmoAppError as exc:
            raise gr.Error(str(exc)) from exc

    inner = getattr(fn, "func", fn)  # functools.partial keeps the real function in .func
    wrapper.__name__ = "study_" + getattr(inner, "__name__", "action").removeprefix("ui_")
    return wrapper


def _base_url(request: Any) -> str:
    try:
        return str(request.url).split("?")[0] if request is not None else ""
    except Exception:  # noqa: BLE001 - a link without a base still works relative to the page
        return ""


def build_study_tab(settings: Settings) -> None:
    """Lay out the Study tab inside the caller's current ``gr.Tab`` context."""
    import gradio as gr

    from emo_app.study import service
    from emo_app.study.db import StudyDB, default_db_path

    db = StudyDB(default_db_path(settings))
    size = min(settings.render_size, 384)

    def names_update() -> Any:
        try:
            return gr.update(choices=service.ui_study_names(db))
        except EmoAppError:
            return gr.update(choices=[])

    gr.Markdown(
        "### Expert rating study\nRate how well each face shows the emotion named below, from 1 "
        "(not at all) to 5 (perfectly). You can pick any part and item; each face takes one vote "
        "(use *Change my vote* to correct it)."
    )
    token_state = gr.State("")
    with gr.Row():
        study = gr.Dropdown(choices=[], label="Study", interactive=True, allow_custom_value=False)
        refresh = gr.Button("Refresh studies", size="sm")
    with gr.Row():
        rater_name = gr.Textbox(label="Your name (first visit)", max_lines=1)
        rater_token = gr.Textbox(label="Your rater token (from your link)", type="password", max_lines=1)
        sign_in = gr.Button("Start rating", variant="primary")
    signed_in = gr.Markdown()
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
        image = gr.Image(label="Face", type="numpy", interactive=False, height=size)
        with gr.Column():
            item_text = gr.Markdown()
            score = gr.Radio([1, 2, 3, 4, 5], label="Your rating (1 = not at all, 5 = perfectly)")
            with gr.Row():
                vote = gr.Button("Submit vote", variant="primary")
                change = gr.Button("Change my vote")
            vote_text = gr.Markdown()
    progress = gr.Markdown()

    def open_link(request: gr.Request) -> tuple[Any, str, str]:
        chosen, token, message = service.ui_open_link(db, dict(request.query_params) if request else {})
        choices = service.ui_study_names(db)
        return gr.update(choices=choices, value=chosen if chosen in choices else None), token, message

    gr.on(triggers=None, fn=open_link, inputs=[], outputs=[study, token_state, signed_in],
          api_name="study_open_link")
    refresh.click(names_update, outputs=study, api_name="study_list")

    def do_sign_in(study_name: str, name: str, token: str, request: gr.Request) -> tuple[str, str]:
        return service.ui_sign_in(db, study_name, name, token, _base_url(request))

    sign_in.click(_shown_errors(do_sign_in), [study, rater_name, rater_token], [token_state, signed_in],
                  api_name="study_sign_in")

    show_outputs = [image, item_text, score, progress]
    show_inputs = [study, token_state, model, part, position]
    show_item = _shown_errors(functools.partial(
        service.ui_show_item, db, render=service.default_point_renderer(size)))
    show.click(show_item, show_inputs, show_outputs, api_name="study_show_item")
    for button, step, api in ((previous, -1, "study_previous"), (following, 1, "study_next")):
        button.click(
            _shown_errors(functools.partial(service.ui_navigate, db, step=step)),
            [study, model, part, position], [part, position], api_name=api,
        ).success(show_item, show_inputs, show_outputs, api_name=f"{api}_show")
    next_unrated.click(
        _shown_errors(functools.partial(service.ui_next_unrated, db)), show_inputs, [part, position],
        api_name="study_next_unrated",
    ).success(show_item, show_inputs, show_outputs, api_name="study_next_unrated_show")
    vote.click(_shown_errors(functools.partial(service.ui_vote, db)), [*show_inputs, score],
               [vote_text, progress], api_name="study_vote")
    change.click(_shown_errors(functools.partial(service.ui_change_vote, db)), [*show_inputs, score],
                 [vote_text, progress], api_name="study_change_vote")

    with gr.Accordion("Admin", open=False):
        admin_token = gr.Textbox(label="Admin token", type="password", max_lines=1)
        unlock = gr.Button("Unlock")
        admin_text = gr.Markdown()
        with gr.Group():
            gr.Markdown("**Create a study**")
            with gr.Row():
                new_name = gr.Textbox(label="Study name", max_lines=1)
                source = gr.Radio(SOURCE_CHOICES, value="points", label="Items")
                seed = gr.Number(value=0, precision=0, label="Seed (generated points)")
            with gr.Row():
                folder = gr.Textbox(label="Image folder (server path)", max_lines=1)
                csv_path = gr.Textbox(label="CSV (optional; default: the folder's only .csv)", max_lines=1)
                folder_model = gr.Radio(MODEL_CHOICES, value="3d", label="Folder images show")
            create = gr.Button("Create study")
        with gr.Group():
            gr.Markdown("**Raters and results** (for the study chosen above)")
            with gr.Row():
                new_rater = gr.Textbox(label="Rater name", max_lines=1)
                add = gr.Button("Add rater and make a link")
            with gr.Row():
                results = gr.Button("Show results")
                export = gr.Button("Export votes CSV")
            results_text = gr.Markdown()
            chart = gr.Plot(label="Ratings per class")
            export_file = gr.File(label="Votes CSV", interactive=False)

    unlock.click(_shown_errors(functools.partial(service.ui_admin_overview, db)), admin_token, admin_text,
                 api_name="study_admin_overview")
    create.click(
        _shown_errors(functools.partial(service.ui_admin_create, db)),
        [admin_token, new_name, source, seed, folder, csv_path, folder_model], admin_text,
        api_name="study_admin_create",
    ).success(names_update, outputs=study, api_name="study_list_after_create")

    def do_add_rater(token: str, study_name: str, name: str, request: gr.Request) -> str:
        return service.ui_admin_add_rater(db, token, study_name, name, _base_url(request))

    add.click(_shown_errors(do_add_rater), [admin_token, study, new_rater], admin_text,
              api_name="study_admin_add_rater")
    results.click(_shown_errors(functools.partial(service.ui_admin_results, db)), [admin_token, study],
                  [results_text, chart], api_name="study_admin_results")
    export.click(_shown_errors(functools.partial(service.ui_admin_export, db)), [admin_token, study],
                 export_file, api_name="study_admin_export")
