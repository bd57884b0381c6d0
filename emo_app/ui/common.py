"""Small pieces every tab shares: error translation, the GPU decorator and plots."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

from emo_app.blendshapes import GROUPS, Blendshapes
from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities
from emo_app.errors import EmoAppError, InvalidInputError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("emo_app.ui")

GROUP_COLOURS = {
    "brows": "#8e6c8a", "eyes": "#3d7ea6", "jaw": "#c06c84", "mouth": "#e07a5f",
    "cheeks": "#f2a65a", "nose": "#6a994e", "tongue": "#bc4749",
}  # fmt: skip
EMOTION_COLOURS = ["#9e9e9e", "#f4c430", "#ff8c42", "#4a6fa5", "#d7263d", "#6a994e", "#7b2cbf", "#5c4d7d"]


# px: narrower than this, a picture or chart sharing a row moves to its own line (on a phone the
# two renders side by side were 160 px faces)
HALF_ROW_MIN_WIDTH = 340

# The 3D viewer draws the pose baked in (services.FaceOutput.viewer_glb): exactly the render's
# vertices and light in under a quarter of the bytes sent on every change (1.7 MB, not 7.8). The rigged
# GLB is one of the downloads. The viewer's camera starts level with the face, as the front
# render's does: Babylon.js's default looks down from above, which hid an open mouth behind the
# upper lip.
VIEWER_CAMERA = (90, 90, None)  # gr.Model3D camera_position: alpha, beta (degrees), radius
# px: the viewer frames the whole bust to its height, so at 300-320 its face was about three
# quarters the size of the renders' beside it
VIEWER_HEIGHT = 440
VIEWER_LABEL = "Interactive 3D (rigged GLB: see Downloads)"  # short: a phone shows one line
FACE_DOWNLOADS_LABEL = "Downloads: JSON, Live Link Face CSV, GLB (52 ARKit morph targets), PNG"
TAKE_DOWNLOADS_LABEL = ("Take downloads: MP4, animated GLB (52 morph targets and the skull joint), "
                        "60 fps Live Link Face CSV, JSON of every frame")
PAGE_HEADER = "x-gradio-user"  # Gradio's own page sends "app"; gradio_client "api"; MCP "mcp"


def show_when_filled(table: Any) -> Any:
    """A table shows once it holds a row with something in it (empty, it showed bare column
    titles); a run or score that was refused leaves it as it was."""
    import gradio as gr

    rows = getattr(table, "values", None)
    return gr.Dataframe(visible=rows is not None and len(rows) > 0 and any(str(v).strip() for v in rows[0]))


def from_the_page(request: Any) -> bool:
    """True when the studio's own page made this request (not gradio_client, not MCP)."""
    headers = getattr(request, "headers", None)
    try:
        return bool(headers) and headers.get(PAGE_HEADER) == "app"
    except AttributeError:
        return False


def page_url(request: Any) -> str:
    """The studio page's own address (for links to hand out), from any request to it: the
    proxy's ``x-forwarded-*`` headers when present (Hugging Face Spaces), else the request's
    host; the path up to Gradio's ``/gradio_api/`` routes. "" without a request."""
    url = getattr(request, "url", None)
    if url is None:
        return ""
    headers = getattr(request, "headers", None) or {}
    host = (headers.get("x-forwarded-host") or headers.get("host") or url.netloc).split(",")[0].strip()
    scheme = (headers.get("x-forwarded-proto") or url.scheme or "http").split(",")[0].strip()
    path = str(url.path).split("/gradio_api/")[0].rstrip("/")
    return f"{scheme}://{host}{path}/"


def show_result_js(elem_id: str, needs_text: str | None = None, max_chars: int | None = None) -> str:
    """Client-side JS for a primary button: when ``elem_id`` (the first result) sits below the
    screen, as on a phone, where the result column stacks under the inputs and examples, bring
    it into view; on a wide screen, where it is already visible, do nothing. ``needs_text``: the
    id of a text box the server refuses without a letter in it (empty, "123 !!") or longer than
    ``max_chars`` (``validation.validate_text``); then the page stays at the box that needs
    fixing (the warning says so) instead of scrolling to a face that will not change."""
    element = json.dumps(elem_id)
    guard = ""
    if needs_text is not None:
        too_long = f" || box.value.length > {int(max_chars)}" if max_chars is not None else ""
        guard = (f"const box = document.querySelector({json.dumps(f'#{needs_text} textarea')}); "
                 f"if (box && (!/\\p{{L}}/u.test(box.value){too_long})) return; ")
    return (
        f"() => {{ {guard}const el = document.getElementById({element}); "
        "if (el && el.getBoundingClientRect().top > window.innerHeight * 0.6) "
        "el.scrollIntoView({behavior: 'smooth', block: 'start'}); }"
    )


def ui_errors(fn: F | None = None, *, positional: int | None = None,
              page_answer: Callable[[str], Any] | None = None) -> F:
    """Our errors (bad input, missing weights) as a sentence, without losing the page.

    From the studio's page the sentence is a warning toast and every output keeps what it
    showed (``gr.skip()``): the face and charts stay on screen. API and MCP callers get a
    ``gr.Error`` with the same sentence. Either way the server logs one INFO line (a user's
    mistake is not a fault); any other exception propagates with its traceback.

    The wrapper adds a ``request: gr.Request`` parameter (Gradio fills it) unless ``fn`` has
    one. A function taking ``*values`` needs ``positional``: how many inputs it is wired to.
    ``page_answer(sentence)``: what the page's outputs become instead of keeping everything (a
    message line that would still describe the last success says the sentence instead)."""
    if fn is None:
        return functools.partial(ui_errors, positional=positional,  # type: ignore[return-value]
                                 page_answer=page_answer)
    import inspect
    import typing

    import gradio as gr

    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        if positional is None:
            raise TypeError(f"{fn} takes *values: say how many inputs it is wired to")
        params = [inspect.Parameter(f"value_{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for i in range(positional)]
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable hints: Gradio only needs ours below
        hints = {}
    own_request = next((p.name for p in params if p.name == "request"
                        or hints.get(p.name) in (gr.Request, gr.Request | None)), None)
    if own_request is not None:
        hints = {**hints, own_request: gr.Request}
    if own_request is None:
        position = next((i for i, p in enumerate(params) if p.kind not in
                         (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)), len(params))
        params.insert(position, inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                  default=None, annotation=gr.Request))
        hints = {**hints, "request": gr.Request}
    request_name = own_request or "request"
    wrapper_signature = signature.replace(parameters=params)
    name = getattr(getattr(fn, "func", fn), "__name__", "action")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = wrapper_signature.bind_partial(*args, **kwargs)
        request = bound.arguments.get(request_name)
        if own_request is None:
            bound.arguments.pop("request", None)
        try:
            refused = next((a for a in bound.arguments.values() if isinstance(a, RefusedInput)), None)
            if refused is not None:
                raise InvalidInputError(refused.message)
            return fn(*bound.args, **bound.kwargs)
        except EmoAppError as exc:
            message = str(exc)
            log.info("%s refused: %s", name, message)
            if from_the_page(request):
                gr.Warning(message, duration=12)
                return gr.skip() if page_answer is None else page_answer(message)
            raise gr.Error(message, duration=12, print_exception=False) from exc

    wrapper.__signature__ = wrapper_signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = hints
    wrapper.refuses_inputs = True  # type: ignore[attr-defined]  # see refuse_bad_payloads
    return wrapper  # type: ignore[return-value]


class RefusedInput:
    """An input value refused before the handler ran (an upload our image check refused, a
    number out of range: ``refuse_bad_payloads``), handed to the handler in its place; the
    ``ui_errors`` wrapper turns it into our sentence (so the page keeps what it shows)."""

    def __init__(self, message: str):
        self.message = message


def short_label(component: Any) -> str:
    """A component's label without its explanation: "θ: tilt of the circle ..." -> "θ",
    "k (top-k retrieval)" -> "k"."""
    label = str(getattr(component, "label", None) or type(component).__name__)
    return label.split(":")[0].split(" (")[0].strip() or label


def payload_refusal(component: Any, payload: Any, error: Exception) -> str:
    """The sentence for a value an input component cannot take, naming the input (Gradio's own
    "Value -1 is less than minimum value 1." does not say which input it means)."""
    import gradio as gr

    name = short_label(component)
    shown = repr(payload) if len(repr(payload)) <= 60 else repr(payload)[:57] + "..."
    if isinstance(component, (gr.Number, gr.Slider)):
        kind = _number_kind(component)
        if isinstance(payload, bool) or not isinstance(payload, (int, float)):
            return f"{name} must be {kind}; got {shown}."
        low, high = component.minimum, component.maximum
        if low is not None and high is not None:
            return f"{name} must be {kind} from {low:g} to {high:g}; got {payload:g}."
        if low is not None:
            return f"{name} must be {kind} of at least {low:g}; got {payload:g}."
        return f"{name} must be {kind} of at most {high:g}; got {payload:g}."
    choices = getattr(component, "choices", None)
    if choices:
        values = [c[1] if isinstance(c, (tuple, list)) else c for c in choices]
        return f"{name} must be one of {', '.join(map(str, values))}; got {shown}."
    detail = getattr(error, "message", None) or str(error)
    return f"{name}: {str(detail).rstrip('.')}."


def _number_kind(component: Any) -> str:
    return "a whole number" if getattr(component, "precision", None) == 0 else "a number"


def refuse_bad_payloads(demo: Any) -> None:
    """Gradio checks each input before the handler runs (a number out of range or of the wrong
    type, a choice not offered, a file of the wrong type) and answers with its own unclear
    sentence and a traceback in the log. For every component whose handlers all use
    ``ui_errors``, those refusals become our sentence naming the input, handed to the handler as
    a ``RefusedInput``: the page keeps what it shows, API callers get a ``gr.Error`` and the
    log one INFO line. A cleared number box and NaN or infinity (which raw JSON can send past
    Gradio's range check) are refused too, and an uploaded image passes our image check BEFORE
    Gradio decodes it: a damaged, truncated, non-image or oversized file gets our specific
    sentence instead of PIL's generic error. (The checks are bound to each instance:
    subclassing a component would make Gradio write a .pyi stub beside our source at import.)"""
    import types

    import gradio as gr

    from emo_app.validation import load_image

    consumers: dict[int, list[Any]] = {}
    blocks: dict[int, Any] = {}
    for block_fn in demo.fns.values():
        for block in block_fn.inputs:
            consumers.setdefault(id(block), []).append(block_fn.fn)
            blocks[id(block)] = block
    for block_id, fns in consumers.items():
        if not all(getattr(fn, "refuses_inputs", False) for fn in fns):
            continue
        component = blocks[block_id]
        if not hasattr(component, "preprocess") or getattr(component, "_refuses_payloads", False):
            continue
        original = component.preprocess

        def checked(self: Any, payload: Any, original: Callable[[Any], Any] = original) -> Any:
            if payload is None and isinstance(self, gr.Number):
                return RefusedInput(f"{short_label(self)} is empty; enter {_number_kind(self)}.")
            if (isinstance(self, (gr.Number, gr.Slider)) and isinstance(payload, float)
                    and not math.isfinite(payload)):  # raw JSON can send NaN and Infinity
                return RefusedInput(f"{short_label(self)} must be a finite number; got {payload}.")
            path = getattr(payload, "path", None) if isinstance(self, gr.Image) else None
            if path and not str(getattr(payload, "url", None) or "").startswith("data:"):
                try:
                    load_image(path)
                except EmoAppError as exc:
                    return RefusedInput(str(exc))
            try:
                return original(payload)
            except (gr.Error, TypeError, ValueError) as exc:
                return RefusedInput(payload_refusal(self, payload, exc))

        component.preprocess = types.MethodType(checked, component)
        component._refuses_payloads = True


def gpu(fn: F) -> F:
    """``@spaces.GPU`` on Hugging Face ZeroGPU Spaces; unchanged everywhere else."""
    if os.environ.get("SPACES_ZERO_GPU") or os.environ.get("SPACE_ID"):
        import spaces

        return spaces.GPU(fn)  # type: ignore[return-value]
    return fn


@functools.lru_cache(maxsize=1)
def _plotly_template() -> dict:
    import plotly.io as pio

    return pio.templates[pio.templates.default].to_plotly_json()


class PlotlyJSON:
    """A finished plotly figure for ``gr.Plot``, which serialises any plotly-like figure by its
    ``to_json()``: this one is JSON already, so no plotly Figure is built and validated on every
    request (the slow part, ~20 ms for the blendshape chart)."""

    def __init__(self, figure: dict[str, Any]):
        import json

        self._json = json.dumps(figure)

    def to_json(self) -> str:
        return self._json


def plotly_figure(figure: dict[str, Any]) -> PlotlyJSON:
    """A plotly figure dict (data and layout) as a ``gr.Plot`` value."""
    return PlotlyJSON(figure)


def plot_data(data: list[dict[str, Any]], layout: dict[str, Any]) -> PlotlyJSON:
    """A chart for gr.Plot from plain trace and layout dicts, with plotly's default look."""
    return PlotlyJSON({"data": data, "layout": {"template": _plotly_template(), **layout}})


def emotions_figure(emotions: EmotionIntensities) -> PlotlyJSON:
    """The 8 Emo3D intensities as a bar chart."""
    bars = {"type": "bar", "x": list(EMO3D_EMOTIONS), "y": [float(v) for v in emotions.values],
            "marker": {"color": EMOTION_COLOURS}, "hovertemplate": "%{x}: %{y:.2f}<extra></extra>"}
    return plot_data([bars], {"title": {"text": "Emotion intensities"}, "yaxis": {"range": [0, 1]},
                              "height": 300, "margin": {"l": 40, "r": 40, "t": 40, "b": 60},
                              "xaxis": {"automargin": True}})


def blendshapes_figure(shapes: Blendshapes, title: str = "ARKit blendshapes by region") -> PlotlyJSON:
    """The 52 weights grouped by face region (brows, eyes, jaw, mouth, cheeks, nose, tongue);
    the x axis grows its margin to fit the longest rotated name (no label is cut off)."""
    bars = [{"type": "bar", "x": list(names), "y": [float(shapes[n]) for n in names], "name": group,
             "marker": {"color": GROUP_COLOURS[group]}, "hovertemplate": "%{x}: %{y:.2f}<extra></extra>"}
            for group, names in GROUPS.items()]
    # the legend sits above the bars and pushes them down as it wraps (one row on a wide screen,
    # three on a phone, where a legend placed at a fixed height covered the bars)
    return plot_data(bars, {"title": {"text": title, "y": 0.94, "yanchor": "top"}, "yaxis": {"range": [0, 1]},
                            "height": 450, "margin": {"l": 40, "r": 10, "t": 40, "b": 10},
                            "legend": {"orientation": "h", "yref": "container", "y": 0.87, "yanchor": "top",
                                       "x": 0},
                            "xaxis": {"tickangle": -60, "automargin": True, "tickfont": {"size": 10}}})


# FACS action units by number, as the reasons name them (see emo_app.text.facs)
AU_NAMES = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    12: "lip corner puller", 13: "cheek puffer", 14: "dimpler", 15: "lip corner depressor",
    16: "lower lip depressor", 17: "chin raiser", 18: "lip pucker", 20: "lip stretcher",
    22: "lip funneler", 23: "lip tightener", 24: "lip pressor", 25: "lips part", 26: "jaw drop",
    27: "mouth stretch", 28: "lip suck", 43: "eyes closed", 64: "eyes down",
}  # fmt: skip
_EMOTION_VIA_AU = re.compile(r"^emotion: (?P<source>.+?) via AU(?P<side>[LR]?)(?P<code>\d+)$")
_CUE = re.compile(r"^cue: '(?P<phrase>.*)'$")


def reason_sentence(source: str, value: float) -> str:
    """One reason a shape moved, in English: "anger moves it through AU4, the brow lowerer (1.00)"."""
    amount = f"{value:.2f}"
    match = _EMOTION_VIA_AU.match(source)
    if match:
        code = int(match["code"])
        side = {"L": " on the left", "R": " on the right"}.get(match["side"], "")
        name = AU_NAMES.get(code)
        action = f"AU{code}, the {name}" if name else f"AU{code}"
        return f"{match['source']} moves it through {action}{side} ({amount})"
    match = _CUE.match(source)
    if match:
        return f"the text says “{match['phrase']}” ({amount})"
    if source == "cue: negated in the text":
        return f"the text negates it ({amount})"
    if source.startswith("cue: "):
        return f"{source.removeprefix('cue: ')} ({amount})"
    return f"{source} ({amount})"


def explanation_rows(explanation: dict[str, list[tuple[str, float]]], shapes: Blendshapes,
                     limit: int = 20) -> list[list[Any]]:
    """Rows of (shape, weight, why in English) for the strongest shapes, for a table."""
    ranked = sorted(((shapes[n], n) for n in explanation if shapes[n] > 0.01), reverse=True)[:limit]
    return [[name, round(weight, 2), "; ".join(reason_sentence(s, v) for s, v in explanation[name][:3]) + "."]
            for weight, name in ranked]


TAKE_VIDEO_LABEL = "The face making the expression"


def take_player(prefix: str, label: str = TAKE_VIDEO_LABEL, height: int = VIEWER_HEIGHT) -> list:
    """A take's looping video and its files (``#<prefix>-take``, ``#<prefix>-take-files``), hidden
    until a take fills them. Not interactive: a shown take is also an input (of ``take_shown``),
    which gave it an editor's trim and clear buttons."""
    import gradio as gr

    return [gr.Video(label=label, autoplay=True, loop=True, height=height, visible=False, interactive=False,
                     elem_id=f"{prefix}-take"),
            gr.File(label=TAKE_DOWNLOADS_LABEL, file_count="multiple", visible=False, interactive=False,
                    elem_id=f"{prefix}-take-files")]


def play_on_click(button: Any, play: Callable, inputs: list, player: list, api_name: str, face: Any) -> None:
    """``button`` plays ``play``'s take into ``player`` (``take_player``) and shows it; a new
    ``face`` on screen hides it."""
    button.click(play, inputs, player, api_name=api_name, concurrency_id="render").then(
        take_shown, player[0], player, api_visibility="private")
    face.change(hidden_take, None, player, api_visibility="private", queue=False)


def take_shown(video: Any) -> tuple:
    """A take's video and files show once a take fills them (a refused one leaves them hidden)."""
    import gradio as gr

    return gr.Video(visible=bool(video)), gr.File(visible=bool(video))


def hidden_take() -> tuple:
    """A new face on screen hides the take of the last one (it would play another expression)."""
    import gradio as gr

    return gr.Video(value=None, visible=False), gr.File(value=None, visible=False)
