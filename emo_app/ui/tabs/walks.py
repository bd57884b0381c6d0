"""Walks tab: axis, circle and between-classes walks as an animated face (GIF, MP4, GLB) and a
grid; with generator weights and a GPU, the matching generated-image walk."""

from __future__ import annotations

import math
from collections.abc import Callable

import gradio as gr

from emo_app.config import Settings
from emo_app.emotion.space import CLASS_NAMES, MAX_WALK_STEPS
from emo_app.emotion.walks import CIRCLE_RADIUS_RANGE
from emo_app.errors import InvalidInputError
from emo_app.ui.common import HALF_ROW_MIN_WIDTH, VIEWER_CAMERA, VIEWER_HEIGHT, gpu, show_result_js, ui_errors

WALK_KINDS = [("Axis: neutral → class", "axis"), ("Circle (tilt θ, start φ, radius r)", "circle"),
              ("Between two classes", "classes")]
# the controls each walk reads (Steps is common to all); the others are hidden, not left to do nothing
WALK_CONTROLS = ("emotion", "other", "theta", "phi", "r", "straight")
USED_BY = {"axis": {"emotion"}, "circle": {"theta", "phi", "r"}, "classes": {"emotion", "other", "straight"}}
CLASS_LABELS = {"axis": "Class at the end of the axis", "classes": "Start class"}
# an axis runs from Neutral out to a class, so Neutral is no end for it; a walk between two
# classes may start or end there
CLASS_CHOICES = {"axis": [name for name in CLASS_NAMES if name != "Neutral"], "classes": list(CLASS_NAMES)}
# (what the example shows, the walk's inputs in the order of the tab's controls)
WALK_EXAMPLES = [
    ("Neutral → Happy, growing stronger", ["axis", "Happy", "Sad", 0, 0, 0.8, 9, False]),
    ("Happy → Sad over the sphere", ["classes", "Happy", "Sad", 0, 0, 0.8, 9, False]),
    ("Happy → Sad, straight through neutral", ["classes", "Happy", "Sad", 0, 0, 0.8, 9, True]),
    # the supplementary's circle figures' "theta=0.4901 phi=0.9801 r=0.6", in degrees
    ("The paper's circle: θ 28°, φ 56°, r 0.6", ["circle", "Happy", "Sad", 28, 56, 0.6, 12, False]),
]
WALKS_INTRO = (
    "A walk is a path through the C2A2 emotion space, drawn as one face per step. *Axis*: from the "
    "neutral centre out to a class, the expression growing stronger. *Circle*: once around the centre "
    "at radius r, through the classes it meets. *Between two classes*: from one class to another over "
    "the sphere, or straight through it. Out come an animated GIF and an MP4 (one labelled frame per "
    "step), a GLB that plays the walk's 52 ARKit blendshape weights (Blender, Unity, three.js), the "
    "same take as a Live Link Face CSV at 60 fps (Unreal), a JSON of every step's point and weights "
    "and a grid PNG of every face."
)


def walk_controls(kind: str, emotion: str | None = None) -> tuple:
    """Show only the controls the chosen walk uses (in WALK_CONTROLS order); the class list is
    the walk's own (an axis offers no Neutral: Happy replaces it)."""
    used = USED_BY.get(kind, set(WALK_CONTROLS))
    updates = [gr.update(visible=name in used) for name in WALK_CONTROLS]
    if kind in CLASS_LABELS:
        choices = CLASS_CHOICES[kind]
        value = {} if emotion in choices or emotion is None else {"value": "Happy"}
        updates[0] = gr.update(visible=True, label=CLASS_LABELS[kind], choices=choices, **value)
    return tuple(updates)


def whole_steps(steps: float) -> int:
    """The Steps slider's value as a count: the page sends whole numbers, an API caller may not
    (4.5 was cut to 4 frames without a word)."""
    if steps != int(steps):
        raise InvalidInputError(f"Steps must be a whole number from 2 to {MAX_WALK_STEPS}; got {steps}.")
    return int(steps)


@ui_errors
def walk(kind: str, emotion: str, other: str, theta: float, phi: float, r: float, steps: int,
         straight: bool, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
    """A walk rendered with the 3D face: GIF, MP4, animated GLB, grid and the files. The circle's
    tilt θ and starting angle φ are in degrees."""
    from emo_app import services

    steps = whole_steps(steps)
    result = services.walk(kind, emotion=emotion, other=other, tilt=math.radians(theta),
                           start_angle=math.radians(phi), r=r, steps=steps, spherical=not straight,
                           progress=lambda fraction, stage: progress(fraction, desc=stage))
    files = result.files
    return (str(files["gif"]), str(files["mp4"]) if "mp4" in files else None, str(result.viewer_glb()),
            str(files["grid"]), [str(p) for p in files.values()])


@gpu
@ui_errors
def generate_walk(kind: str, emotion: str, other: str, theta: float, phi: float, r: float, steps: int,
                  straight: bool, seed: int, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
    """The same walk through the C2A2 image generator (needs weights and a GPU)."""
    from emo_app import services

    if seed is None:  # a cleared Seed box
        raise InvalidInputError("Enter a seed: a whole number, the same for every image of the walk.")
    steps = whole_steps(steps)
    progress(0.05, desc=f"Generating {steps} images")
    result, message = services.generate_walk(kind, emotion=emotion, other=other, tilt=math.radians(theta),
                                             start_angle=math.radians(phi), r=r, steps=steps,
                                             spherical=not straight, seed=int(seed))
    if result is None:
        return None, None, message
    return str(result.grid), str(result.gif) if result.gif else None, "Generated."


@ui_errors
def first_walk(shown: str | None, kind: str, emotion: str, other: str, theta: float, phi: float, r: float,
               steps: int, straight: bool, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
    """The walk the controls set, when the tab shows none yet: the first visit plays a face
    walking from neutral to happy (0.5 s to make) instead of five empty panels."""
    if shown:
        return tuple(gr.skip() for _ in range(5))
    return walk(kind, emotion, other, theta, phi, r, steps, straight, progress=progress)


def build_walks_tab(settings: Settings) -> Callable[[gr.Tab], None]:
    """Lay out the Walks tab and wire its events (call inside a gr.Tab); returns what wires the
    tab's own select event (the first visit shows a walk)."""
    gr.Markdown(WALKS_INTRO, elem_id="walks-intro")
    with gr.Row():
        with gr.Column(scale=1):
            kind = gr.Radio(WALK_KINDS, value="axis", label="Walk")
            emotion = gr.Dropdown(CLASS_CHOICES["axis"], value="Happy", label=CLASS_LABELS["axis"])
            other = gr.Dropdown(list(CLASS_NAMES), value="Sad", label="End class", visible=False)
            theta = gr.Slider(-180, 180, value=0, step=1, label="θ: tilt of the circle towards +Z (degrees)",
                              info="0: the valence/arousal plane; 90: upright, through +Z and -Z",
                              visible=False)
            phi = gr.Slider(-180, 180, value=0, step=1, label="φ: starting angle on the circle (degrees)",
                            info="0: starts at pleasant (+valence); 90: a quarter turn on, towards arousal",
                            visible=False)
            r = gr.Slider(*CIRCLE_RADIUS_RANGE, value=0.8, step=0.01, label="r: radius",
                          info="how strong the faces are: near 0 almost neutral, 1 full intensity",
                          visible=False)
            steps = gr.Slider(2, MAX_WALK_STEPS, value=9, step=1, label="Steps",
                              info="faces along the walk: the frames of the GIF and the MP4")
            straight = gr.Checkbox(False, label="Straight line instead of the great circle", visible=False,
                                   info="the straight line passes near neutral, so the faces fade mid-way")
            go = gr.Button("Walk the face", variant="primary")
            inputs = [kind, emotion, other, theta, phi, r, steps, straight]
            examples = gr.Examples([row for _, row in WALK_EXAMPLES], inputs=inputs, label="Examples",
                                   example_labels=[name for name, _ in WALK_EXAMPLES],
                                   elem_id="walk-examples")
        with gr.Column(scale=2):
            with gr.Row():
                # each at least HALF_ROW_MIN_WIDTH wide: on a phone they stack at full width
                # not interactive: it is also an input (first_walk reads whether a walk is shown)
                gif = gr.Image(label="Animated face (GIF)", type="filepath", height=300, elem_id="walk-gif",
                               min_width=HALF_ROW_MIN_WIDTH, interactive=False)
                video = gr.Video(label="MP4", height=300, min_width=HALF_ROW_MIN_WIDTH, elem_id="walk-mp4")
            model3d = gr.Model3D(label="The walk in 3D (rigged GLB: see Downloads)", height=VIEWER_HEIGHT,
                                  camera_position=VIEWER_CAMERA)
            grid = gr.Image(label="Grid", type="filepath")
            files = gr.File(label="Downloads: GIF, MP4, GLB, Live Link Face CSV, JSON, grid PNG",
                            file_count="multiple", elem_id="walk-files")
    from emo_app.services import generation_status

    with gr.Accordion("Generated-image walk (C2A2 Stable Diffusion)", open=False):
        # as on the sphere tab: why it cannot run here shows before anyone presses the button
        status = generation_status()
        seed = gr.Number(value=0, minimum=0, precision=0, label="Seed (the same for every step)")
        gen = gr.Button("Generate the image walk", interactive=bool(status.get("can_generate")))
        gen_message = gr.Markdown(status.get("message", ""), label="Generation message")
        gen_grid = gr.Image(label="Generated walk, with the face beside each image", type="filepath")
        gen_gif = gr.Image(label="Generated walk (GIF)", type="filepath")
    outputs = [gif, video, model3d, grid, files]
    controls = [emotion, other, theta, phi, r, straight]
    kind.change(ui_errors(walk_controls), [kind, emotion], controls, api_visibility="private", queue=False)
    go.click(walk, inputs, outputs, api_name="walk", concurrency_id="render")
    go.click(None, js=show_result_js("walk-gif"), api_visibility="private", queue=False)
    # an example of the same walk as before fires no kind.change, and loading it restored the
    # controls' first layout (the axis's): the example sets the layout itself, then walks
    examples.load_input_event.then(
        ui_errors(walk_controls), [kind, emotion], controls, api_visibility="private", queue=False,
    ).then(walk, inputs, outputs, api_visibility="private", concurrency_id="render")
    gen.click(generate_walk, [*inputs, seed], [gen_grid, gen_gif, gen_message], api_name="generate_walk",
              concurrency_id="gpu", concurrency_limit=1)

    def on_first_visit(tab: gr.Tab) -> None:
        tab.select(first_walk, [gif, *inputs], outputs, api_visibility="private", concurrency_id="render")

    return on_first_visit
