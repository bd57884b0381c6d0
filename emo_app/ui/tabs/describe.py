"""Describe tab: text -> face, emotions, blendshapes, C2A2 point, reasons, score, downloads."""

from __future__ import annotations

import json
from typing import Any

from emo_app.blendshapes import ARKIT_NAMES, GROUPS, Blendshapes
from emo_app.config import Settings
from emo_app.text.examples import EXAMPLE_DESCRIPTIONS
from emo_app.ui.common import blendshapes_figure, emotions_figure, explanation_rows, ui_errors

EXAMPLES = list(EXAMPLE_DESCRIPTIONS)

DEFAULT_TEXT = EXAMPLES[0]


def model_choices(settings: Settings | None = None) -> list[tuple[str, str]]:
    """(label, name) for every text model; unavailable ones say why in the label."""
    from emo_app.text import list_text_models

    choices = []
    for row in list_text_models(settings):
        label = row["name"] if row.get("available") else f"{row['name']} (unavailable)"
        choices.append((label, row["name"]))
    return choices


def sphere_plot(point):
    """A small static view of the C2A2 sphere with the text's point, handed to gr.Plot as
    ready JSON (no plotly Figure to validate and re-serialise on every request)."""
    from gradio.components.plot import PlotData

    from emo_app.ui.sphere_plot import sphere_figure

    figure = sphere_figure(point, resolution=20)
    figure["layout"]["height"] = 300
    return PlotData(type="plotly", plot=json.dumps(figure))


def _describe_outputs(result) -> tuple:
    from emo_app.emotion.space import nearest_classes

    prediction = result.prediction
    shapes = prediction.shapes
    nearest = ", ".join(f"{n} ({d:.2f})" for n, d in nearest_classes(prediction.point, 3))
    theta, phi, r = prediction.point.to_spherical()
    point_md = (
        f"**C2A2 point** valence {prediction.point.valence:+.2f}, "
        f"arousal {prediction.point.arousal:+.2f}, Z {prediction.point.z:+.2f} "
        f"(θ {theta:.2f}, φ {phi:.2f}, r {r:.2f})  \n**Nearest classes:** {nearest}"
    )
    cues = ", ".join(prediction.cues) or "none"
    notes = " ".join(prediction.notes)
    summary = f"**Dominant emotion:** {prediction.emotions.dominant()} · **facial cues found:** {cues}"
    if notes:
        summary += f"  \n{notes}"
    files = [str(p) for p in result.face.files.values()]
    return (
        *_image_files(result.face),

        str(result.face.files["glb"]),
        emotions_figure(prediction.emotions),
        blendshapes_figure(shapes),
        point_md,
        summary,
        explanation_rows(prediction.explanation, shapes),
        files,
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
    side = front.with_name("three_quarter.jpg")
    Image.fromarray(face.images["three_quarter"]).save(side, quality=92)
    return str(front), str(side)


@ui_errors
def describe(text: str, model: str, look: str | None = None) -> tuple:
    """Text -> the whole Describe page (images, plots, reasons, files, sliders). ``look``:
    "photo" or "skin" (default: the EMO_FACE_LOOK setting)."""
    from emo_app import services

    return _describe_outputs(services.describe(text, model=model or "embedded", look=look or None))


# Runs in the browser when the prediction JSON changes: the sliders show the predicted weights
# without 52 more outputs on every /describe call (API callers already get them in the JSON).
SLIDERS_FROM_STATE_JS = (
    "(state) => { const w = (state && state.blendshapes) || {}; "
    f"return {json.dumps(list(ARKIT_NAMES))}.map((n) => Number(w[n] ?? 0)); }}"
)


@ui_errors
def render_weights(*values: Any) -> tuple:
    """Re-render after hand edits to any shape: the 52 weights, then optionally the look;
    returns images, GLB, plot and files."""
    from emo_app.services import render_face

    weights, rest = values[: len(ARKIT_NAMES)], values[len(ARKIT_NAMES) :]
    look = rest[0] if rest else None
    face = render_face(Blendshapes.from_array(weights), views=("front", "three_quarter"), exports=True,
                       look=look or None)
    return (*_image_files(face), str(face.files["glb"]),
            blendshapes_figure(face.shapes), [str(p) for p in face.files.values()])


@ui_errors
def score_face(state: dict[str, Any] | None) -> tuple[str, list[list[Any]]]:
    """The Emo3D score of the face just described (or, without CLIP, the offline judges)."""
    from emo_app.emotion.emotions import EmotionIntensities
    from emo_app.metric import live
    from emo_app.services import render_face

    if not state or "blendshapes" not in state:
        return "Describe a face first.", []
    shapes = Blendshapes.from_dict(state["blendshapes"])
    emotions = EmotionIntensities.from_dict(state["emotions"])
    image = render_face(shapes, views=("front",), size=256).images["front"]
    report = live.score_face(image, emotions, shapes)
    rows: list[list[Any]] = []
    if report.get("emo3d"):
        emo3d = report["emo3d"]
        text = (f"**Emo3D** {emo3d['score']:.3f} (KL {emo3d['kl']:.3f}, k = {emo3d['k']}, "
                f"{emo3d['clip_model']}; lower is better, 0.5 = perfect retrieval)")
        rows = [[t["text"], t["similarity"]] for t in emo3d["top"]]
    else:
        text = f"⚠️ {report['emo3d_unavailable']}"
    judges = report.get("offline_judges") or {}
    fer = judges.get("fer") or {}
    if fer:
        text += f"\n\n**Offline judge: FER2013 classifier** {fer.get('summary', fer)}"
    mediapipe = judges.get("mediapipe") or {}
    if mediapipe.get("detected"):
        text += (f"\n\n**Offline judge: MediaPipe re-read** Pearson r {mediapipe['pearson_r']:.2f}, "
                 f"MSE {mediapipe['mse']:.4f} against the intended weights")
    elif mediapipe:
        text += "\n\n**Offline judge: MediaPipe re-read** no face detected in the render"
    return text, rows


def build_describe_tab(settings: Settings) -> None:
    """Lay out the Describe tab and wire its events (call inside a gr.Tab)."""
    import gradio as gr

    with gr.Row():
        with gr.Column(scale=2) as left:
            text = gr.Textbox(label="Describe a face", value=DEFAULT_TEXT, lines=3, max_lines=8,
                              elem_id="describe-text")
            model = gr.Dropdown(choices=model_choices(settings), value="embedded", label="Text model")
            look = gr.Radio([("photo skin", "photo"), ("clean skin", "skin")], value=settings.face_look,
                            label="Look", elem_id="describe-look")
            go = gr.Button("Make the face", variant="primary", elem_id="describe-go")
        with gr.Column(scale=3):
            with gr.Row():
                front = gr.Image(label="Front", type="numpy", elem_id="describe-front", height=320)
                three_quarter = gr.Image(label="Three-quarter", type="numpy", height=320)
            model3d = gr.Model3D(
                label="Interactive 3D (GLB with 52 ARKit morph targets)",
                height=320,
                elem_id="describe-model3d",
            )
    summary = gr.Markdown(elem_id="describe-summary")
    with gr.Row():
        point_md = gr.Markdown()
        point_plot = gr.Plot(label="The text's point on the C2A2 sphere")
    with gr.Row():
        emotions_plot = gr.Plot(label="Emotions")
        shapes_plot = gr.Plot(label="Blendshapes")
    reasons = gr.Dataframe(headers=["shape", "weight", "why"], label="Why each shape moved",
                           interactive=False, wrap=True)
    with gr.Row():
        score_btn = gr.Button("Score this face (Emo3D, or the offline judges without CLIP)")
    score_md = gr.Markdown()
    score_top = gr.Dataframe(headers=["retrieved prompt", "similarity"], label="Top-k prompts",
                             interactive=False)
    downloads = gr.File(label="Downloads: JSON, Live Link Face CSV, GLB, PNG", file_count="multiple")
    with gr.Accordion("The prediction as JSON", open=False):
        state = gr.JSON(label="Prediction")
    sliders = []
    with gr.Accordion("Edit any shape", open=False):
        for group, names in GROUPS.items():
            with gr.Accordion(group, open=False, elem_id=f"shapes-{group}"):
                for name in names:
                    sliders.append(gr.Slider(0, 1, value=0, step=0.01, label=name, elem_id=f"slider-{name}"))
        apply = gr.Button("Apply the sliders")
    ordered = [sliders[[n for g in GROUPS.values() for n in g].index(name)] for name in ARKIT_NAMES]

    outputs = [front, three_quarter, model3d, emotions_plot, shapes_plot, point_md, summary, reasons,
               downloads, state, point_plot]
    with left:  # examples sit under the button; each is computed on first use, then cached
        gr.Examples([[t, "embedded"] for t in EXAMPLES], inputs=[text, model], outputs=outputs, fn=describe,
                    label="Examples", cache_examples=True, cache_mode="lazy")
    state.change(None, state, ordered, js=SLIDERS_FROM_STATE_JS, api_name=False, queue=False)
    for trigger in (go.click, text.submit):
        trigger(describe, [text, model, look], outputs, api_name="describe" if trigger == go.click else False,
                concurrency_id="render")
    apply.click(render_weights, [*ordered, look], [front, three_quarter, model3d, shapes_plot, downloads],
                api_name="render_weights", concurrency_id="render")
    score_btn.click(score_face, [state], [score_md, score_top], api_name="score_face")
    root = gr.context.Context.root_block
    if root is not None:  # the first screen already shows a face
        root.load(describe, [text, model, look], outputs, api_name=False, concurrency_id="render")
