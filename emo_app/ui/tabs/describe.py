"""Describe tab: text -> face, emotions, blendshapes, C2A2 point, reasons, score, downloads.

What the page shows is what it scores: the shape sliders hold the weights of the face on
screen and the head sliders its turn, nod and tilt (the page copies each prediction into
them), editing a slider or the Look redraws the face at once, and *Score this face* renders
exactly those weights and that pose in that look."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import gradio as gr

from emo_app.blendshapes import ARKIT_NAMES, GROUPS, Blendshapes
from emo_app.blendshapes.pose import POSE_LIMITS
from emo_app.blendshapes.take import MAX_PHASE_SECONDS, PACE_RANGE, TakeTiming
from emo_app.config import Settings
from emo_app.text.examples import EXAMPLE_DESCRIPTIONS
from emo_app.ui.common import (
    FACE_DOWNLOADS_LABEL,
    HALF_ROW_MIN_WIDTH,
    VIEWER_CAMERA,
    VIEWER_HEIGHT,
    VIEWER_LABEL,
    blendshapes_figure,
    emotions_figure,
    explanation_rows,
    from_the_page,
    play_on_click,
    plotly_figure,
    show_result_js,
    show_when_filled,
    take_player,
    ui_errors,
)

EXAMPLES = list(EXAMPLE_DESCRIPTIONS)

DEFAULT_TEXT = EXAMPLES[0]
LOOKS = [("generated skin", "skin"), ("photo skin", "photo")]
HEADS = [("full head (ICT-FaceKit)", "full"), ("MediaPipe mask head", "mediapipe")]
TONES = [("light", "light"), ("medium", "medium"), ("deep", "deep")]
BACKGROUNDS = [("light", "light"), ("dark", "dark")]
APPEARANCE = ("look", "head", "tone", "background")  # the order the appearance inputs come in


def _appearance(values: Sequence[Any]) -> dict[str, str | None]:
    """The appearance inputs (look, head, tone, background) as render_face keywords; missing or
    empty ones fall back to the settings."""
    return {name: (values[i] or None) if i < len(values) else None for i, name in enumerate(APPEARANCE)}
N_SHAPES = len(ARKIT_NAMES)
TAKE_LABEL = ("The face making the expression: rest, onset, hold with a blink, back to rest (a feeling "
              "the words leave behind plays first)")
POSE_AXES = tuple(POSE_LIMITS)  # yaw, pitch, roll: the head sliders, after the appearance inputs
POSE_LABELS = {"yaw": "head turn (yaw, degrees; + to the subject's left)",
               "pitch": "head nod (pitch, degrees; + chin up)",
               "roll": "head tilt (roll, degrees; + toward the left shoulder)"}


def _face_choices(values: Sequence[Any]) -> dict[str, Any]:
    """The inputs after the weights, as render_face keywords: the appearance (``_appearance``),
    then the head sliders (yaw, pitch, roll; missing ones 0) as its pose."""
    angles = values[len(APPEARANCE):]
    pose = {axis: (angles[i] or 0.0) if i < len(angles) else 0.0 for i, axis in enumerate(POSE_AXES)}
    return {**_appearance(values[:len(APPEARANCE)]), "pose": pose}


def model_rows(settings: Settings | None = None) -> list[dict[str, Any]]:
    from emo_app.services import text_models

    return text_models(settings)


def model_choices(settings: Settings | None = None) -> list[tuple[str, str]]:
    """(label, name) for every text model; unavailable ones say so in the label."""
    return [(row["name"] if row.get("available") else f"{row['name']} (unavailable)", row["name"])
            for row in model_rows(settings)]


def unavailable_models_note(settings: Settings | None = None) -> str:
    """Which text models cannot run here, and how to get each (Markdown; "" when all can)."""
    missing = [row for row in model_rows(settings) if not row.get("available")]
    if not missing:
        return ""
    lines = [f"- **{row['name']}**: {row.get('reason') or 'its weights are missing.'}" for row in missing]
    return "Models marked *(unavailable)* cannot run on this machine yet:\n" + "\n".join(lines)


def sphere_plot(point):
    """A small static view of the C2A2 sphere with the text's point."""
    from emo_app.ui.sphere_plot import sphere_figure

    figure = sphere_figure(point, resolution=20)
    figure["layout"]["height"] = 300
    # the big sphere's camera, drawn further back: at this height it cut off the axes' names
    figure["layout"]["scene"]["camera"] = {"eye": {"x": 1.6, "y": -1.75, "z": 1.15}}
    return plotly_figure(figure)


def point_text(point) -> str:
    """The point in words: valence, arousal, Z, its angles in degrees and nearest classes."""
    from emo_app.emotion.space import nearest_classes

    nearest = ", ".join(f"{n} ({d:.2f})" for n, d in nearest_classes(point, 3))
    theta, phi, r = point.to_spherical()
    return (f"**C2A2 point** {point.coordinates_text()} "
            f"(θ {round(math.degrees(theta))}°, φ {round(math.degrees(phi))}°, r {r:.2f})  \n"
            f"**Nearest classes:** {nearest}")


def _describe_outputs(result) -> tuple:
    prediction = result.prediction
    shapes = prediction.shapes
    cues = ", ".join(dict.fromkeys(prediction.cues)) or "none"  # each cue once, however often it recurs
    summary = f"**Dominant emotion:** {prediction.emotions.dominant()} · **facial cues found:** {cues}"
    if result.language_note:
        summary = f"⚠️ {result.language_note}  \n" + summary
    if prediction.notes:  # one line each: the notes are phrases without full stops
        summary += "\n\n" + "\n".join(f"- {note}" for note in prediction.notes)
    return (
        *_image_files(result.face),
        str(result.face.viewer_glb()),
        emotions_figure(prediction.emotions),
        blendshapes_figure(shapes),
        point_text(prediction.point),
        summary,
        explanation_rows(prediction.explanation, shapes),
        [str(p) for p in result.face.files.values()],
        result.to_dict(),
        sphere_plot(prediction.point),
    )


def _image_files(face) -> tuple[Any, Any]:
    """Front and three-quarter images as files: the front PNG is already written for the
    downloads; the three-quarter view is only shown, so a quality-92 JPEG (under 1 ms) is
    enough, where a PNG or Gradio's own WebP encode costs 7 to 17 ms per request."""
    from PIL import Image

    front = face.files.get("png")
    if front is None:
        return face.images["front"], face.images["three_quarter"]
    side = front.with_name(f"{front.stem}-three-quarter.jpg")
    Image.fromarray(face.images["three_quarter"]).save(side, quality=92)
    return str(front), str(side)


@ui_errors
def describe(text: str, model: str, look: str | None = None, head: str | None = None,
             tone: str | None = None, background: str | None = None, request: gr.Request = None) -> tuple:
    """Text -> the whole Describe page (images, plots, reasons, files, the prediction, the point).
    ``look`` ("skin" or "photo"), ``head`` ("full" or "mediapipe"), skin ``tone`` and
    ``background`` ("light" or "dark") default to the EMO_* settings."""
    from emo_app import services

    result = services.describe(text, model=model or "embedded",
                               **_appearance([look, head, tone, background]))
    if result.language_note and from_the_page(request):
        gr.Warning(result.language_note, duration=15)
    return _describe_outputs(result)


# Runs in the browser when the prediction JSON changes: the sliders show the predicted weights
# and head pose without 55 more outputs on every /describe call (API callers get them in the JSON).
SLIDERS_FROM_STATE_JS = (
    "(state) => { const w = (state && state.blendshapes) || {}; "
    "const p = (state && state.head_pose) || {}; "
    f"return {json.dumps(list(ARKIT_NAMES))}.map((n) => Number(w[n] ?? 0))"
    f".concat({json.dumps(list(POSE_AXES))}.map((a) => Number(p[a] ?? 0))); }}"
)


@ui_errors(positional=N_SHAPES + len(APPEARANCE) + len(POSE_AXES))
def render_weights(*values: Any) -> tuple:
    """The face for 52 weights (ARKit order), its appearance (look, head, tone, background) and
    the head's pose (yaw, pitch, roll in degrees): images, GLB, the blendshape chart and the files."""
    from emo_app.services import render_face

    weights, rest = values[:N_SHAPES], values[N_SHAPES:]
    face = render_face(Blendshapes.from_array(weights), views=("front", "three_quarter"), exports=True,
                       name="edited-face", **_face_choices(rest))
    return (*_image_files(face), str(face.viewer_glb()),
            blendshapes_figure(face.shapes), [str(p) for p in face.files.values()])


@ui_errors(positional=N_SHAPES + 1 + len(APPEARANCE) + len(POSE_AXES))
def score_face(*values: Any) -> tuple[list[list[Any]], str, list[list[Any]]]:
    """Score the face on screen: the prediction (for the text's emotions), the 52 weights now in
    the sliders, the look and the head's pose. Returns (a table of measures, a note, the top-k
    prompts)."""
    from emo_app.services import score_face as score

    state, weights = values[0], values[1:N_SHAPES + 1]
    return score_tables(score(weights, state, **_face_choices(values[N_SHAPES + 1:])))


TAKE_STATE_AT = N_SHAPES + len(APPEARANCE) + len(POSE_AXES)  # /play_take's prediction input
TAKE_CONTROLS = ("pace", "hold", "back_to_rest", "blink")  # its inputs after the prediction


def _take_options(pace: Any = None, hold: Any = None, back_to_rest: Any = None, blink: Any = None) -> dict:
    """``play_take``'s pace and timing from the page's controls (in TAKE_CONTROLS order); a
    control an older API caller leaves out keeps its default."""
    timing = {"hold": hold, "offset": None if back_to_rest in (None, True) else 0.0,
              "blink": blink in (None, True)}
    return {"pace": 1.0 if pace is None else pace, "timing": timing}


@ui_errors(positional=TAKE_STATE_AT + 1 + len(TAKE_CONTROLS))
def play_take(*values: Any) -> tuple:
    """The face on screen making its expression, from rest and back (a take): the 52 weights
    (ARKit order), the look, head, tone and background, the head's yaw, pitch and roll, then the
    prediction (its text names the files, a feeling it had first plays first, its dominant
    emotion sets the pace), then the pace (0.5 to 2), the hold (seconds), back to rest and the
    blink. Returns the video and the take's files (MP4, animated GLB, 60 fps Live Link CSV, JSON)."""
    from emo_app.outputs import file_stem
    from emo_app.services_take import earlier_beats
    from emo_app.services_take import play_take as play

    weights, state = values[:N_SHAPES], values[TAKE_STATE_AT] if len(values) > TAKE_STATE_AT else None
    state = state if isinstance(state, dict) else {}
    text = state.get("text")
    result = play(Blendshapes.from_array(weights), name=file_stem(text) if text else "edited-face",
                  extra={"text": text} if text else None, earlier=earlier_beats(text, state.get("model")),
                  emotion=state.get("dominant_emotion"), **_take_options(*values[TAKE_STATE_AT + 1:]),
                  **_face_choices(values[N_SHAPES:TAKE_STATE_AT]))
    return str(result.video), [str(path) for path in result.files.values()]


def score_tables(report: dict[str, Any]) -> tuple[list[list[Any]], str, list[list[Any]]]:
    """A score report as (rows of measure, value, meaning; a note; the top-k prompts)."""
    rows: list[list[Any]] = []
    top: list[list[Any]] = []
    note = ""
    emo3d = report.get("emo3d")
    if emo3d:
        rows.append(["Emo3D score", round(emo3d["score"], 3),
                     f"lower is better; 0.5 = perfect retrieval (k = {emo3d['k']}, {emo3d['clip_model']})"])
        rows.append(["Emo3D KL", round(emo3d["kl"], 3),
                     "how far the retrieved prompts' emotions are from the text's"])
        top = [[t["text"], round(float(t["similarity"]), 3)] for t in emo3d["top"]]
    else:
        note = "⚠️ " + str(report.get("emo3d_unavailable") or "")
    judges = report.get("offline_judges") or {}
    fer = judges.get("fer") or {}
    if fer:
        seen = fer["top_class"]
        verdict = "they agree" if fer["agrees"] else "they differ"
        rows.append(["FER2013 classifier sees", f"{seen} ({fer['probabilities'][seen]:.0%})",
                     f"the text expects {fer['expected_class']}: {verdict}"])
        rows.append(["FER2013 KL", round(fer["kl"], 3),
                     "the text's emotions against the classifier's; lower is better"])
    mediapipe = judges.get("mediapipe") or {}
    if mediapipe.get("detected"):
        r = mediapipe["pearson_r"]
        rows.append(["MediaPipe re-read: Pearson r",
                     round(r, 2) if r is not None and math.isfinite(r) else "undefined (a still face)",
                     "the weights read back from the picture against the weights drawn; 1 is best"])
        rows.append(["MediaPipe re-read: MSE", round(mediapipe["mse"], 4), "lower is better"])
    elif mediapipe:
        rows.append(["MediaPipe re-read", "no face found", "MediaPipe did not find the face in the picture"])
    return rows, note, top


def _appearance_controls(settings: Settings) -> list[gr.Radio]:
    """The face's appearance choices, in ``APPEARANCE`` order: a change to any redraws the face
    on screen, and render_weights and score_face take them after the 52 weights."""
    with gr.Row():
        head = gr.Radio(HEADS, value=settings.face_head, label="Head shown", elem_id="describe-head",
                        info="the full head, or the mask head that photos fit")
        look = gr.Radio(LOOKS, value=settings.face_look, label="Look", elem_id="describe-look")
    with gr.Row():
        tone = gr.Radio(TONES, value=settings.skin_tone, label="Skin tone", elem_id="describe-tone")
        background = gr.Radio(BACKGROUNDS, value="light", label="Background", elem_id="describe-background")
    return [look, head, tone, background]


def _take_controls() -> list[Any]:
    """The take's timing controls, in ``TAKE_CONTROLS`` order (``_take_options`` reads them)."""
    with gr.Accordion("Take timing", open=False, elem_id="describe-take-timing"):
        with gr.Row():
            pace = gr.Slider(*PACE_RANGE, value=1.0, step=0.1, elem_id="take-pace",
                             label="pace (1: the emotion's own; 2: twice as fast)")
            hold = gr.Slider(0, MAX_PHASE_SECONDS, value=TakeTiming().hold, step=0.1, elem_id="take-hold",
                             label="hold (seconds at the full expression)")
        with gr.Row():
            back = gr.Checkbox(True, label="back to rest at the end (a loop)", elem_id="take-back")
            blink = gr.Checkbox(True, label="blink in the hold", elem_id="take-blink")
    return [pace, hold, back, blink]


def _shape_sliders() -> tuple[list[gr.Slider], list[gr.Slider], list[gr.Slider], gr.Button]:
    """One slider per shape, grouped by region, and three for the head's pose: (shape sliders as
    laid out, shape sliders in ARKit order, head sliders in POSE_AXES order, the redraw button)."""
    sliders = []
    with gr.Accordion("Edit any shape (the face redraws as you let go of a slider)", open=False,
                      elem_id="describe-edit"):
        with gr.Accordion("head pose", open=False, elem_id="shapes-head-pose"):
            pose = [gr.Slider(-limit, limit, value=0, step=1, label=POSE_LABELS[axis],
                              elem_id=f"slider-head-{axis}") for axis, limit in POSE_LIMITS.items()]
        for group, names in GROUPS.items():
            with gr.Accordion(group, open=False, elem_id=f"shapes-{group}"):
                for name in names:
                    sliders.append(gr.Slider(0, 1, value=0, step=0.01, label=name, elem_id=f"slider-{name}"))
        apply = gr.Button("Redraw with these weights")
    ordered = [sliders[[n for g in GROUPS.values() for n in g].index(name)] for name in ARKIT_NAMES]
    return sliders, ordered, pose, apply


def build_describe_tab(settings: Settings) -> None:
    """Lay out the Describe tab and wire its events (call inside a gr.Tab)."""
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(label="Describe a face", value=DEFAULT_TEXT, lines=3, max_lines=8,
                              elem_id="describe-text",
                              info="how it looks, what it feels, just what happened, or an emoji",
                              placeholder="A broad grin · Furious, brows lowered · My phone was stolen.")
            model = gr.Dropdown(choices=model_choices(settings), value="embedded", label="Text model")
            models_note = unavailable_models_note(settings)
            if models_note:
                with gr.Accordion("Unavailable models and how to get them", open=False):
                    gr.Markdown(models_note)
            appearance = _appearance_controls(settings)
            go = gr.Button("Make the face", variant="primary", elem_id="describe-go")
            examples_slot = gr.Column()
        with gr.Column(scale=3):
            with gr.Row():
                front = gr.Image(label="Front", type="filepath", elem_id="describe-front", height=320,
                                 min_width=HALF_ROW_MIN_WIDTH)
                three_quarter = gr.Image(label="Three-quarter", type="filepath", height=320,
                                         min_width=HALF_ROW_MIN_WIDTH, elem_id="describe-three-quarter")
            model3d = gr.Model3D(
                label=VIEWER_LABEL,
                height=VIEWER_HEIGHT,
                camera_position=VIEWER_CAMERA,
                elem_id="describe-model3d",
            )
            play = gr.Button("▶ Play it: watch the face make the expression", elem_id="describe-play")
            take_controls = _take_controls()
            player = take_player("describe", TAKE_LABEL)
    summary = gr.Markdown(label="Summary", elem_id="describe-summary")
    # side by side on a wide screen; on a phone each takes the full width (at half of 400 px the
    # charts dropped every other emotion's name and the legend covered the bars)
    with gr.Row():
        point_md = gr.Markdown(label="C2A2 point", min_width=HALF_ROW_MIN_WIDTH)
        point_plot = gr.Plot(label="The text's point on the C2A2 sphere", min_width=HALF_ROW_MIN_WIDTH,
                             elem_id="describe-point-plot")
    with gr.Row():
        emotions_plot = gr.Plot(label="Emotions", min_width=HALF_ROW_MIN_WIDTH, elem_id="describe-emotions")
        shapes_plot = gr.Plot(label="Blendshapes", elem_id="describe-shapes", min_width=HALF_ROW_MIN_WIDTH)
    # widths in shares of the table: on a phone the reasons wrap in view instead of running off
    # its right edge (content-sized columns put most of each reason out of sight)
    reasons = gr.Dataframe(headers=["shape", "weight", "why it moved"], label="Why each shape moved",
                           interactive=False, wrap=True, elem_id="describe-reasons",
                           column_widths=["25%", "11%", "64%"])
    sliders, ordered, pose, apply = _shape_sliders()
    with gr.Row():
        score_btn = gr.Button("Score this face (Emo3D, or the offline judges without CLIP)",
                              elem_id="describe-score")
    # the score's tables show once a score fills them (empty, they were two rows of column
    # titles under the button); the top-k prompts only come with CLIP
    score_table = gr.Dataframe(headers=["measure", "value", "what it means"], interactive=False, wrap=True,
                               label="Score of the face on screen", elem_id="describe-score-table",
                               column_widths=["32%", "22%", "46%"], visible=False)  # shares, as the reasons
    score_note = gr.Markdown(label="Score note")
    score_top = gr.Dataframe(headers=["retrieved prompt", "similarity"], label="Top-k prompts",
                             interactive=False, wrap=True, column_widths=["78%", "22%"], visible=False,
                             elem_id="describe-score-top")
    downloads = gr.File(label=FACE_DOWNLOADS_LABEL, file_count="multiple")
    with gr.Accordion("The prediction as JSON", open=False):
        state = gr.JSON(label="Prediction")

    outputs = [front, three_quarter, model3d, emotions_plot, shapes_plot, point_md, summary, reasons,
               downloads, state, point_plot]
    with examples_slot:  # the examples sit under the button; a click fills the text and makes
        # its face with the model, head, look, tone and background chosen above (not a cached
        # face in the default look, which left the controls saying one thing and the face another)
        examples = gr.Examples([[t] for t in EXAMPLES], inputs=[text], label="Examples",
                               elem_id="describe-examples")
    examples.load_input_event.then(describe, [text, model, *appearance], outputs, api_name="describe_example",
                                   api_visibility="private", concurrency_id="render")
    state.change(None, state, [*ordered, *pose], js=SLIDERS_FROM_STATE_JS, api_visibility="private",
                 queue=False)
    go.click(describe, [text, model, *appearance], outputs, api_name="describe", concurrency_id="render")
    text.submit(describe, [text, model, *appearance], outputs, api_visibility="private",
                concurrency_id="render")
    # on a phone the face is a long scroll below the button (and below the examples)
    for trigger in (go.click, text.submit):
        trigger(None, js=show_result_js("describe-front", needs_text="describe-text",
                                        max_chars=settings.max_text_chars),
                api_visibility="private", queue=False)
    # an example brings its own text: the box's value at the click (maybe empty) does not count
    examples.dataset.click(None, js=show_result_js("describe-front"), api_visibility="private", queue=False)
    redraw_outputs = [front, three_quarter, model3d, shapes_plot, downloads]
    apply.click(render_weights, [*ordered, *appearance, *pose], redraw_outputs, api_name="render_weights",
                concurrency_id="render")
    gr.on([slider.release for slider in [*sliders, *pose]] + [control.input for control in appearance],
          render_weights, [*ordered, *appearance, *pose], redraw_outputs, api_visibility="private",
          concurrency_id="render", trigger_mode="always_last")
    play_on_click(play, play_take, [*ordered, *appearance, *pose, state, *take_controls], player, "play_take",
                  front)
    score_outputs = [score_table, score_top]
    score_btn.click(score_face, [state, *ordered, *appearance, *pose], [score_table, score_note, score_top],
                    api_name="score_face").then(lambda *tables: tuple(map(show_when_filled, tables)),
                                                score_outputs, score_outputs, api_visibility="private")

    def first_face(request: gr.Request) -> tuple:
        """The first screen already shows a face: the default text in the default look."""
        return describe(DEFAULT_TEXT, "embedded", request=request)

    gr.on(triggers=None, fn=first_face, outputs=outputs, api_visibility="private",
          concurrency_id="render")
