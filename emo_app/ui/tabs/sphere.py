"""Emotion sphere tab: click (or slide to) any C2A2 point; see its classes, face and image.

A click on the sphere's surface picks a direction and keeps the intensity r set below it, so
points inside the sphere (weaker expressions) are one click and one slide away; a click on a
class marker goes to that class; the centre is neutral. Angles are shown in degrees."""

from __future__ import annotations

import math

import gradio as gr

from emo_app.config import Settings
from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError
from emo_app.ui.common import (
    FACE_DOWNLOADS_LABEL,
    emotions_figure,
    from_the_page,
    gpu,
    play_on_click,
    take_player,
    ui_errors,
)
from emo_app.ui.sphere_plot import sphere_component, sphere_value

DEFAULT_POINT = EmotionPoint.of_class("Happily surprised")
ON_SURFACE = 0.98  # a clicked point this far out is on the sphere's skin, not a class inside it
MISSED = ("That click did not land on the sphere or a class. Click on the sphere's surface (r "
          "below sets how strong the expression is) or on a class marker; drag to turn the view.")


def _point(theta_deg: float, phi_deg: float, r: float) -> EmotionPoint:
    return EmotionPoint.from_spherical(math.radians(theta_deg), math.radians(phi_deg), r)


def _angles(point: EmotionPoint) -> tuple[float, float, float]:
    """(θ°, φ°, r) for the sliders."""
    theta, phi, r = point.to_spherical()
    return round(math.degrees(theta), 1), round(math.degrees(phi), 1), round(min(r, 1.0), 3)


def _point_outputs(point: EmotionPoint, angles: tuple[float, float, float] | None = None) -> tuple:
    """The sphere, heading, face and chart for a point; ``angles`` (θ°, φ°, r) as the sliders
    hold them, which at r = 0 keep the direction the point itself no longer has."""
    from emo_app import services

    result = services.sphere_point(point, size=320, exports=True)
    nearest = "\n".join(
        f"{i + 1}. **{name}** (distance {d:.2f})" for i, (name, d) in enumerate(result.nearest)
    )
    theta, phi, r = angles if angles is not None else _angles(point)
    heading = (f"### Nearest class: {result.nearest[0][0]}\n"
               f"{point.coordinates_text()} · "
               f"θ {round(theta)}°, φ {round(phi)}°, r {r:.2f}\n\n{nearest}")
    return (sphere_value(point), heading, result.face.images["front"], emotions_figure(result.emotions),
            [str(path) for path in result.face.files.values()])


@ui_errors
def sphere_point(theta: float, phi: float, r: float) -> tuple:
    """A point by azimuth θ and elevation φ in degrees and intensity r (0 neutral, 1 full)."""
    return _point_outputs(_point(theta, phi, r), (theta, phi, r))


@ui_errors
def select_clicked(r: float, evt: gr.SelectData) -> tuple:
    """A click on the sphere: its surface gives a direction at the chosen r; a class marker
    inside (or on) the sphere gives that point. The sliders follow."""
    value = evt.value if isinstance(evt.value, dict) else {}
    try:
        point = EmotionPoint(value["valence"], value["arousal"], value["z"])
    except KeyError as exc:
        raise InvalidInputError(MISSED) from exc
    if point.radius >= ON_SURFACE and r is not None:
        point = EmotionPoint(*(point.as_array() / point.radius * float(r)))
    return (*_angles(point), *_point_outputs(point))


def missed_click(request: gr.Request) -> None:
    """A click that hit nothing: say so (the page keeps its point)."""
    if from_the_page(request):
        gr.Info(MISSED, duration=8)


@ui_errors
def sphere_point_xyz(valence: float, arousal: float, z: float) -> tuple:
    """A point by valence, arousal and z."""
    point = EmotionPoint(valence, arousal, z)
    return (*_angles(point), *_point_outputs(point))


@gpu
@ui_errors
def play_point(theta: float, phi: float, r: float) -> tuple:
    """The face of the point at azimuth θ and elevation φ in degrees and intensity r making its
    expression, from rest and back: the video and the take's files (MP4, animated GLB, CSV, JSON)."""
    from emo_app.services_take import take_of_point

    result = take_of_point(_point(theta, phi, r))
    return str(result.video), [str(path) for path in result.files.values()]


@ui_errors
def generate(theta: float, phi: float, r: float, seed: int) -> tuple[list, str]:
    """Images from the C2A2 generator for the selected point (GPU; says why when unavailable)."""
    from emo_app.services import generate_images

    images, message = generate_images(_point(theta, phi, r), seeds=(int(seed),))
    return images, message or "Generated."


def build_sphere_tab(settings: Settings) -> None:
    """Lay out the Emotion sphere tab and wire its events (call inside a gr.Tab)."""
    from emo_app.services import generation_status

    theta0, phi0, _ = _angles(DEFAULT_POINT)
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown("Click the sphere's surface to pick an emotion; **r** sets its strength "
                        "(0 is the neutral centre). Class markers are named on hover.")
            sphere = sphere_component(DEFAULT_POINT)
            theta = gr.Slider(-180, 180, value=theta0, step=1,
                              label="θ: direction in the valence/arousal plane (degrees; 0 = pleasant)")
            phi = gr.Slider(-90, 90, value=phi0, step=1, label="φ: elevation towards +Z (degrees)")
            r = gr.Slider(0, 1, value=1.0, step=0.01, label="r: intensity (0 neutral, 1 full)",
                          elem_id="sphere-r")
            neutral = gr.Button("Go to the neutral centre", size="md")
        with gr.Column(scale=2):
            heading = gr.Markdown(label="Nearest classes", elem_id="sphere-nearest")
            face = gr.Image(label="The face for this point", type="numpy", height=320, elem_id="sphere-face")
            play = gr.Button("▶ Play it: watch the face make this expression", elem_id="sphere-play")
            player = take_player("sphere", height=320)
            emotions_plot = gr.Plot(label="Emo3D intensities for this point")
            # the point's face to take away, as from Describe (the JSON says which point it is)
            downloads = gr.File(label=FACE_DOWNLOADS_LABEL, file_count="multiple", elem_id="sphere-downloads")
    with gr.Accordion("Generated image (C2A2 Stable Diffusion)", open=False):
        status = generation_status()
        gen_message = gr.Markdown(status.get("message", ""), label="Generation message")
        seed = gr.Number(value=0, minimum=0, precision=0, label="Seed")
        gen_btn = gr.Button("Generate", interactive=bool(status.get("can_generate")))
        gallery = gr.Gallery(label="Generated", columns=2, height=300)
    hidden_v = gr.Number(visible=False, label="valence")
    hidden_a = gr.Number(visible=False, label="arousal")
    hidden_z = gr.Number(visible=False, label="z")
    api_point = gr.Button(visible=False)

    page = [sphere, heading, face, emotions_plot, downloads]
    gr.on([theta.release, phi.release, r.release], sphere_point, [theta, phi, r], page,
          api_name="sphere_point", concurrency_id="render")
    sphere.select(select_clicked, [r], [theta, phi, r, *page], api_visibility="private",
                  concurrency_id="render")
    sphere.click(missed_click, None, None, api_visibility="private")
    neutral.click(lambda: (0, 0, 0), None, [theta, phi, r], api_visibility="private", queue=False).then(
        sphere_point, [theta, phi, r], page, api_visibility="private", concurrency_id="render")
    api_point.click(sphere_point_xyz, [hidden_v, hidden_a, hidden_z], [theta, phi, r, *page],
                    api_name="sphere_point_xyz", concurrency_id="render")
    play_on_click(play, play_point, [theta, phi, r], player, "play_point", face)
    gen_btn.click(generate, [theta, phi, r, seed], [gallery, gen_message], api_name="generate",
                  concurrency_id="gpu", concurrency_limit=1)

    def first_point(request: gr.Request) -> tuple:
        return sphere_point(theta0, phi0, 1.0, request)

    gr.on(triggers=None, fn=first_point, outputs=page, api_visibility="private", concurrency_id="render")
