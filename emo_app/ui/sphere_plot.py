"""The clickable 3D emotion sphere: a plotly figure in a custom ``gr.HTML`` component.

``gr.Plot`` has no click event for 3D plots, so the component loads plotly.js (served from
the plotly Python package, so it works offline), draws the figure whose JSON is the
component's value, and sends ``plotly_click`` back as a ``click`` event carrying the clicked
point's valence, arousal and z. When the server returns a new figure the component redraws.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from emo_app.emotion.space import BASIC_CLASSES, C2A2_CLASSES, COMPOUND_CLASSES, EmotionPoint


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


# Angry and Disgusted sit close together: one label above its marker, one below
LABEL_POSITIONS = {"Angry": "top center", "Disgusted": "bottom center"}


def sphere_figure(point: EmotionPoint | None = None, resolution: int = 28) -> dict:
    """Plotly figure dict: a translucent unit sphere, the 20 classes and the selected point.
    The sphere and classes are built once per resolution (plotly's figure validation is the
    slow part); each call copies that and adds the point."""
    figure = json.loads(_base_sphere_json(resolution))
    if point is not None:
        figure["data"].append({
            "type": "scatter3d", "x": [point.valence], "y": [point.arousal], "z": [point.z],
            "mode": "markers", "name": "selected",
            "marker": {"size": 10, "color": "#e11d48", "symbol": "diamond"},
            "hovertemplate": "selected<extra></extra>",
        })
    return figure


@lru_cache(maxsize=4)
def _base_sphere_json(resolution: int) -> str:
    import plotly.graph_objects as go

    u = np.linspace(-math.pi, math.pi, resolution)
    v = np.linspace(-math.pi / 2, math.pi / 2, resolution // 2)
    xs = np.outer(np.cos(v), np.cos(u))
    ys = np.outer(np.cos(v), np.sin(u))
    zs = np.outer(np.sin(v), np.ones_like(u))
    fig = go.Figure()
    fig.add_surface(x=xs.round(4), y=ys.round(4), z=zs.round(4), opacity=0.25, showscale=False,
                    colorscale=[[0, "#c7d2fe"], [1, "#fbcfe8"]], name="sphere",
                    hovertemplate="valence %{x:.2f}<br>arousal %{y:.2f}<br>Z %{z:.2f}<extra></extra>")
    # the 7 basic classes carry labels; the compounds are smaller markers named on hover, so
    # their labels do not pile up on top of each other
    for names, basic in ((list(BASIC_CLASSES), True), (list(COMPOUND_CLASSES), False)):
        coords = np.array([C2A2_CLASSES[n] for n in names])
        fig.add_scatter3d(
            x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="markers+text" if basic else "markers",
            text=names, textfont=dict(size=11),
            textposition=[LABEL_POSITIONS.get(n, "top center") for n in names],
            name="basic classes" if basic else "compound classes",
            marker=dict(size=7 if basic else 4, color="#1f2937" if basic else "#6b7280"),
            hovertemplate="%{text}<br>valence %{x:.2f}, arousal %{y:.2f}, Z %{z:.2f}<extra></extra>",
        )
    axis = dict(range=[-1.15, 1.15], zeroline=True)
    fig.update_layout(
        height=460, margin=dict(l=0, r=0, t=0, b=0), showlegend=False,
        scene=dict(xaxis=dict(title="valence", **axis), yaxis=dict(title="arousal", **axis),
                   zaxis=dict(title="Z", **axis), aspectmode="cube",
                   camera=dict(eye=dict(x=1.25, y=-1.35, z=0.9))),
    )
    return fig.to_json()


HTML_TEMPLATE = """
<div class="emo-sphere">
  <pre class="emo-sphere-data" style="display:none">${value}</pre>
  <div class="emo-sphere-plot" style="width:100%;height:460px"></div>
</div>
"""

JS_ON_LOAD = """
// Where the ray under the pointer meets the unit sphere, in data units: the camera's matrices
// (gl-plot3d, column-major) are inverted to cast the ray; null when that is not possible.
const surfaceHit = (plot, [clientX, clientY]) => {
  try {
    const scene = plot._fullLayout.scene._scene, gl = scene.glplot, camera = gl.cameraParams;
    const rect = gl.canvas.getBoundingClientRect();
    const x = 2 * (clientX - rect.left) / rect.width - 1, y = 1 - 2 * (clientY - rect.top) / rect.height;
    const m = [0, 1, 2, 3].map(r => [0, 1, 2, 3].map(c => [0, 1, 2, 3].reduce((sum, k) => sum +
      [0, 1, 2, 3].reduce((s2, j) => s2 + camera.projection[j * 4 + r] * camera.view[k * 4 + j], 0) *
      camera.model[c * 4 + k], 0)));
    const inv = invert4(m);
    if (!inv) return null;
    const unproject = (depth) => {
      const v = [0, 1, 2, 3].map(r => inv[r][0] * x + inv[r][1] * y + inv[r][2] * depth + inv[r][3]);
      return [0, 1, 2].map(i => v[i] / v[3] / scene.dataScale[i]);
    };
    const near = unproject(-1), far = unproject(1);
    const dir = far.map((f, i) => f - near[i]), length = Math.hypot(...dir);
    const d = dir.map(c => c / length);
    const b = near.reduce((s, c, i) => s + c * d[i], 0), c = near.reduce((s, v) => s + v * v, 0) - 1;
    if (b * b - c < 0) return null;
    const t = -b - Math.sqrt(b * b - c), hit = near.map((v, i) => v + t * d[i]);
    return hit.every(Number.isFinite) ? hit : null;
  } catch (e) { return null; }
};
const invert4 = (m) => {  // Gauss-Jordan on a 4x4 row-major matrix; null if singular
  const a = m.map((row, i) => [...row, ...[0, 1, 2, 3].map(j => (i === j ? 1 : 0))]);
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (Math.abs(a[pivot][col]) < 1e-12) return null;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    const p = a[col][col];
    a[col] = a[col].map(v => v / p);
    for (let r = 0; r < 4; r++) {
      if (r !== col) { const f = a[r][col]; a[r] = a[r].map((v, j) => v - f * a[col][j]); }
    }
  }
  return a.map(row => row.slice(4));
};
const draw = () => {
  const data = element.querySelector('.emo-sphere-data');
  const plot = element.querySelector('.emo-sphere-plot');
  if (!data || !plot || !window.Plotly) return false;
  const text = data.textContent;
  if (!text || (plot.dataset.drawn === text && plot.querySelector('.main-svg'))) return true;
  let fig;
  try { fig = JSON.parse(text); } catch (e) { return true; }
  plot.dataset.drawn = text;
  window.Plotly.react(plot, fig.data, fig.layout, {displaylogo: false, responsive: true}).then(() => {
    if (plot.dataset.bound === '1') return;
    plot.dataset.bound = '1';
    // a click on a point selects it; a click that hits nothing (not a drag to turn the view)
    // is reported too, so the page can say what happened
    let down = null, pressed = null, picked = false;
    plot.on('plotly_click', (event) => {
      const p = event.points && event.points[0];
      if (!p || p.x === undefined) return;
      picked = true;
      // plotly names the sphere's nearest grid vertex (up to ~7 degrees off); a class marker is exact
      const onSurface = p.data && p.data.type === 'surface' && pressed;
      const at = (onSurface && surfaceHit(plot, pressed)) || [p.x, p.y, p.z];
      trigger('select', {index: at, value: {valence: at[0], arousal: at[1], z: at[2]}});
    });
    plot.addEventListener('pointerdown', (e) => {
      down = pressed = [e.clientX, e.clientY]; picked = false;
    });
    plot.addEventListener('pointerup', (e) => {
      if (!down) return;
      const moved = Math.hypot(e.clientX - down[0], e.clientY - down[1]);
      down = null;
      setTimeout(() => { if (!picked && moved < 4) trigger('click'); }, 400);
    });
  });
  return true;
};
const waitForPlotly = () => { if (!draw()) setTimeout(waitForPlotly, 100); };
waitForPlotly();
new MutationObserver(() => draw()).observe(element, {childList: true, subtree: true, characterData: true});
"""


def sphere_value(point: EmotionPoint | None) -> str:
    """The component's value: the figure as JSON text (escaped for the <pre> holder)."""
    text = json.dumps(sphere_figure(point), separators=(",", ":"))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sphere_component(point: EmotionPoint | None, elem_id: str = "emo-sphere"):
    """Build the gr.HTML sphere (call inside a Blocks context)."""
    import gradio as gr

    script = f'<script src="/gradio_api/file={plotly_js_path()}"></script>'
    return gr.HTML(value=sphere_value(point), html_template=HTML_TEMPLATE, js_on_load=JS_ON_LOAD,
                   head=script, elem_id=elem_id, padding=False, apply_default_css=False,
                   label="Emotion sphere (plotly figure JSON)")
