"""Capture tab: a photo or webcam frame -> 52 weights -> the face performs them; or the
user's own textured face performs any description."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from emo_app.config import Settings
from emo_app.ui.common import (
    FACE_DOWNLOADS_LABEL,
    HALF_ROW_MIN_WIDTH,
    VIEWER_CAMERA,
    VIEWER_HEIGHT,
    VIEWER_LABEL,
    blendshapes_figure,
    play_on_click,
    show_result_js,
    take_player,
    ui_errors,
)

# the chart's title: with a description the face performs the TEXT's weights, not the photo's
PHOTO_WEIGHTS = "Blendshapes captured from the photo"
DESCRIPTION_WEIGHTS = "Blendshapes from your description (not the photo's expression)"


def sample_photo() -> Path:
    """A face to try the tab with, no upload needed: NASA's public-domain portrait of astronaut
    Eileen Collins, which scikit-image ships."""
    import skimage.data

    return Path(skimage.data.data_dir) / "astronaut.png"


# (what the example shows, the description, whether her own face performs it)
CAPTURE_EXAMPLES = [
    ("Her expression, on our face", "", False),
    ("Her own face performs a grin", "A broad grin with eyes alight with cheer.", True),
]


def say_why_no_capture(sentence: str) -> tuple:
    """A refused photo: the message line says why (it kept "1 face found." beside a photo with no
    face) and that what is below is still the last capture; everything else stays on screen."""
    import gradio as gr

    message = f"⚠️ {sentence.rstrip('.')}. (Any face below is from the last photo that worked.)"
    return (*[gr.skip()] * 4, message, gr.skip(), gr.skip())


@ui_errors(page_answer=say_why_no_capture)
def capture(image: Any, text: str, own_face: bool) -> tuple:
    """Photo (+ optional description) -> renders, GLB, weights plot, message and files."""
    from emo_app import services

    description = text.strip() if isinstance(text, str) and text.strip() else None
    outcome = services.capture(image, text=description, use_photo_texture=bool(own_face))
    face = outcome.face
    title = DESCRIPTION_WEIGHTS if description else PHOTO_WEIGHTS
    return (face.images["front"], face.images["three_quarter"], str(face.viewer_glb()),
            blendshapes_figure(outcome.shapes, title=title), outcome.message,
            [str(p) for p in face.files.values()], outcome.shapes.to_dict())


SAMPLE_NOTE = ("Captured from a sample portrait (NASA's astronaut Eileen Collins, public domain; "
               "*Try a sample photo* shows it). Drop your own into *A photo of a face*, or take one "
               "with the webcam.")


@ui_errors(page_answer=say_why_no_capture)  # as every handler reading the photo: its checks stay on
def first_capture(photo: Any, shown: Any, text: str, own_face: bool) -> tuple:
    """The sample portrait captured, when the tab shows no photo and no face yet: the first
    visit shows what the tab does instead of empty panels; a later visit keeps what is there.
    The photo box stays as it is, so a photo dropped meanwhile is not replaced (its own capture
    queues behind this one)."""
    import gradio as gr

    if photo or shown is not None:
        return tuple(gr.skip() for _ in range(7))
    front, three_quarter, viewer, plot, message, files, weights = capture(str(sample_photo()), "", False)
    return front, three_quarter, viewer, plot, f"{SAMPLE_NOTE} {message}", files, weights


@ui_errors
def play_capture(image: Any, text: str, own_face: bool) -> tuple:
    """The captured face (a photo, an optional description for the photo's own face, and whether
    it wears the photo's skin, as *Capture* takes them) making its expression, from rest and back:
    the video and the take's files (MP4, animated GLB, 60 fps Live Link CSV, JSON)."""
    from emo_app.services_take import take_of_photo

    description = text.strip() if isinstance(text, str) and text.strip() else None
    result = take_of_photo(image or str(sample_photo()), text=description, use_photo_texture=bool(own_face))
    return str(result.video), [str(path) for path in result.files.values()]


@ui_errors
def ganmut_edit(image: Any, valence: float, arousal: float, z: float) -> Any:
    """Move the photo's expression to a C2A2 point with the GANmut-3D editor."""
    from emo_app import services
    from emo_app.emotion.space import EmotionPoint

    return services.edit_photo(image, EmotionPoint(valence, arousal, z))


def build_capture_tab(settings: Settings) -> Callable[[Any], None]:
    """Lay out the Capture tab and wire its events (call inside a gr.Tab); returns what wires the
    tab's own select event (the first visit captures the sample portrait)."""
    import gradio as gr

    with gr.Row():
        with gr.Column(scale=1):
            # our load_image checks size and damage before Gradio decodes any pixel
            # (ui.common.refuse_bad_payloads, as for every input of a ui_errors handler)
            photo = gr.Image(label="A photo of a face", sources=["upload", "webcam", "clipboard"],
                             type="filepath")
            text = gr.Textbox(label="Optional: a description for YOUR face to perform", lines=2)
            own_face = gr.Checkbox(False, label="Use my photo as the face's texture")
            go = gr.Button("Capture", variant="primary")
            examples = gr.Examples([[str(sample_photo()), text_, own] for _, text_, own in CAPTURE_EXAMPLES],
                                   inputs=[photo, text, own_face], label="Try a sample photo",
                                   example_labels=[name for name, _, _ in CAPTURE_EXAMPLES],
                                   elem_id="capture-examples")
        with gr.Column(scale=2):
            message = gr.Markdown(label="Message", elem_id="capture-message")
            with gr.Row():
                # not interactive: it is also an input (first_capture reads whether a face is shown)
                front = gr.Image(label="Front", type="numpy", height=300, min_width=HALF_ROW_MIN_WIDTH,
                                 elem_id="capture-front", interactive=False)
                three_quarter = gr.Image(label="Three-quarter", type="numpy", height=300,
                                         min_width=HALF_ROW_MIN_WIDTH, elem_id="capture-three-quarter")
            model3d = gr.Model3D(label=VIEWER_LABEL, height=VIEWER_HEIGHT, camera_position=VIEWER_CAMERA,
                                 elem_id="capture-model3d")
            play = gr.Button("▶ Play it: watch the face make this expression", elem_id="capture-play")
            player = take_player("capture")
    plot = gr.Plot(label="Blendshapes")
    weights = gr.JSON(label="The 52 weights (the chart's numbers)")
    files = gr.File(label=FACE_DOWNLOADS_LABEL, file_count="multiple")
    from emo_app.services import photo_editor_available

    available = photo_editor_available(settings)
    with gr.Accordion("Edit the photo to any C2A2 point (GANmut-3D)", open=False):
        gr.Markdown("A GANmut-3D checkpoint is present." if available else
                    "Needs a GANmut-3D checkpoint at weights/ganmut-c2a2.safetensors "
                    "(train one with `python -m emo_app train-ganmut`).", label="Editor status")
        with gr.Row():
            valence = gr.Slider(-1, 1, value=0.8, step=0.01, label="valence")
            arousal = gr.Slider(-1, 1, value=0.5, step=0.01, label="arousal")
            z_axis = gr.Slider(-1, 1, value=0.0, step=0.01, label="Z")
        edit = gr.Button("Edit the photo", interactive=available)
        edited = gr.Image(label="Edited photo", type="numpy", height=256)
    edit.click(ganmut_edit, [photo, valence, arousal, z_axis], edited, api_name="ganmut_edit",
               concurrency_id="render")
    outputs = [front, three_quarter, model3d, plot, message, files, weights]
    go.click(capture, [photo, text, own_face], outputs, api_name="capture", concurrency_id="render")
    go.click(None, js=show_result_js("capture-message"), api_visibility="private", queue=False)
    examples.load_input_event.then(capture, [photo, text, own_face], outputs, api_visibility="private",
                                   concurrency_id="render")
    examples.dataset.click(None, js=show_result_js("capture-message"), api_visibility="private", queue=False)
    play_on_click(play, play_capture, [photo, text, own_face], player, "play_capture", front)

    def on_first_visit(tab: gr.Tab) -> None:
        tab.select(first_capture, [photo, front, text, own_face], outputs, api_visibility="private",
                   concurrency_id="render")

    return on_first_visit
