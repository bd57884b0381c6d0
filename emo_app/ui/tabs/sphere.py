"""Emotion sphere tab: click (or slide to) any C2A2 point; see its classes, face and image."""

from __future__ import annotations

import math

import gradio as gr

from emo_app.config import Settings
from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError
from emo_app.ui.common import emotions_figure, gpu, ui_errors
from emo_app.ui.sphere_plot import sphere_component, sphere_value

DEFAULT_POINT = EmotionPoint.of_class("Happily surprised")


def _point_outputs(point: EmotionPoint) -> tuple:
    from emo_app import services

    result = services.sphere_point(point, size=320)
    nearest = "\n".join(
        f"{i + 1}. **{name}** (distance {d:.2f})" for i, (name, d) in enumerate(result.nearest)
    )
    theta, phi, r = point.to_spherical()
    heading = (f"### Nearest class: {result.nearest[0][0]}\n"
               f"valence {point.valence:+.2f}, arousal {point.arousal:+.2f}, Z {point.z:+.2f} · "
               f"θ {theta:.2f}, φ {phi:.2f}, r {r:.2f}\n\n{nearest}")
    return (sphere_value(point), heading, result.face.images["front"], emotions_figure(result.emotions))


@ui_errors
def sphere_point(theta: float, phi: float, r: float) -> tuple:
    """Sliders -> the point's page."""
    return _point_outputs(EmotionPoint.from_spherical(theta, phi, r))


@ui_errors
def select_clicked(evt: gr.EventData) -> tuple:
    """A click on the sphere -> the sliders move there, and the point's page."""
    data = getattr(evt, "_data", None) or {}
    try:
        point = EmotionPoint(data["valence"], data["arousal"], data["z"])
    except KeyError as exc:
        raise InvalidInputError("The click did not carry a point; click on the sphere or a class.") from exc
    theta, phi, r = point.to_spherical()
    return (round(theta, 3), round(phi, 3), round(min(r, 1.0), 3), *_point_outputs(point))


@ui_errors
def sphere_point_xyz(valence: float, arousal: float, z: float) -> tuple:
    """API: a point by valence, arousal and z."""
    point = EmotionPoint(valence, arousal, z)
    theta, phi, r = point.to_spherical()
    return (round(theta, 3), round(phi, 3), round(min(r, 1.0), 3), *_point_outputs(point))


@gpu
@ui_errors
def generate(theta: float, phi: float, r: float, seed: int) -> tuple[list, str]:
    """Images from the C2A2 generator for the selected point (GPU; says why when unavailable)."""
    from emo_app.services import generate_images

    images, message = generate_images(EmotionPoint.from_spherical(theta, phi, r), seeds=(int(seed),))
    return images, message or "Generated."


def build_sphere_tab(settings: Settings) -> None:
    """Lay out the Emotion sphere tab and wire its events (call inside a gr.Tab)."""
    from emo_app.services import generation_status

    theta0, phi0, r0 = DEFAULT_POINT.to_spherical()
    with gr.Row():
        with gr.Column(scale=3):
            sphere = sphere_component(DEFAULT_POINT)
            theta = gr.Slider(-math.pi, math.pi, value=round(theta0, 3), step=0.01,
                              label="θ: azimuth in the valence/arousal plane (radians)")
            phi = gr.Slider(-math.pi / 2, math.pi / 2, value=round(phi0, 3), step=0.01,
                            label="φ: elevation towards +Z (radians)")
            r = gr.Slider(0, 1, value=1.0, step=0.01, label="r: intensity (0 neutral, 1 full)")
        with gr.Column(scale=2):
            heading = gr.Markdown(elem_id="sphere-nearest")
            face = gr.Image(label="The face for this point", type="numpy", height=320, elem_id="sphere-face")
            emotions_plot = gr.Plot(label="Emo3D intensities for this point")
    with gr.Accordion("Generated image (C2A2 Stable Diffusion)", open=False):
        status = generation_status()
        gen_message = gr.Markdown(status.get("message", ""))
        seed = gr.Number(value=0, precision=0, label="Seed")
        gen_btn = gr.Button("Generate", interactive=bool(status.get("can_generate")))
        gallery = gr.Gallery(label="Generated", columns=2, height=300)
    hidden_v = gr.Number(visible=False)
    hidden_a = gr.Number(visible=False)
    hidden_z = gr.Number(visible=False)
    api_point = gr.Button(visible=False)

    page = [sphere, heading, face, emotions_plot]
    slider_events = [theta.release, phi.release, r.release]
    gr.on(slider_events, sphere_point, [theta, phi, r], page, api_name="sphere_point",
          concurrency_id="render")
    sphere.click(select_clicked, None, [theta, phi, r, *page], api_name=False, concurrency_id="render")
    api_point.click(sphere_point_xyz, [hidden_v, hidden_a, hidden_z], [theta, phi, r, *page],
                    api_name="sphere_point_xyz", concurrency_id="render")
    gen_btn.click(generate, [theta, phi, r, seed], [gallery, gen_message], api_name="generate",
                  concurrency_id="gpu", concurrency_limit=1)
    root = gr.context.Context.root_block
    if root is not None:
        root.load(sphere_point, [theta, phi, r], page, api_name=False, concurrency_id="render")
