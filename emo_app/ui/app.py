"""Builds the Gradio studio. Nothing here runs at import: ``build_app()`` makes the Blocks and
``launch()`` serves them. Each tab lives in ``emo_app/ui/tabs/`` as a ``build_*_tab`` function
that only lays out components and wires events to plain functions in ``emo_app.services``."""

from __future__ import annotations

import importlib
import logging
import os
from typing import TYPE_CHECKING, Any

from emo_app.config import Settings

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

# (tab label, module in emo_app.ui.tabs, builder function)
TABS: tuple[tuple[str, str, str], ...] = (
    ("Describe", "describe", "build_describe_tab"),
    ("Emotion sphere", "sphere", "build_sphere_tab"),
    ("Walks", "walks", "build_walks_tab"),
    ("Capture", "capture", "build_capture_tab"),
    ("Benchmark", "benchmark", "build_benchmark_tab"),
    ("Study", "study", "build_study_tab"),
)

CACHE_LIFETIME = (3600, 3600)  # Gradio's delete_cache: every hour, files older than an hour

INTRO = (
    "# Emotion Studio\n"
    "Type how a face feels and watch a 3D face make the expression; pick a point in the C2A2 "
    "emotion space; capture a photo's expression; measure how well a face conveys a text."
)


def build_app(settings: Settings | None = None):
    """The studio's ``gr.Blocks`` (not launched)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Gradio's queue rebuilds a pandas summary of up to 10,000 past events after every event
    # (for its monitoring page, unused here): 6% of the server's CPU under load, growing with
    # uptime. Every 100 events over the last 1,000 is plenty.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    import gradio as gr

    from emo_app.outputs import output_root
    from emo_app.ui.common import refuse_bad_payloads, ui_errors

    settings = settings or Settings.from_env()
    # Request folders are written once and pruned by outputs.output_dir, so Gradio serves them
    # in place: no hash and copy of every image, GLB and CSV per request (12% of the server's
    # CPU), and no second copy in Gradio's cache, which otherwise grows without bound.
    output_root().mkdir(parents=True, exist_ok=True)
    gr.set_static_paths([str(output_root())])
    # anything else Gradio caches (arrays returned by other tabs, uploads) expires after an hour
    with gr.Blocks(title="Emotion Studio", analytics_enabled=False, delete_cache=CACHE_LIFETIME) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs() as tabs:
            for label, module_name, builder in TABS:
                with gr.Tab(label, id=module_name) as tab:
                    module = importlib.import_module(f"emo_app.ui.tabs.{module_name}")
                    wire_tab = getattr(module, builder)(settings)
                if wire_tab is not None:  # a builder may wire its own tab's events (the first visits)
                    wire_tab(tab)
        demo.load(ui_errors(tab_from_link), None, tabs, api_visibility="private", queue=False)
    refuse_bad_payloads(demo)  # Gradio's own input checks answer with our sentence too
    return demo


def tab_from_link(request: gr.Request | None = None) -> Any:
    """The tab a link asks for: ``?tab=<id>`` (a module name in TABS), and a rater's study link
    (``?study=..``) opens the Study tab; otherwise the page stays on the first tab."""
    import gradio as gr

    query = dict(request.query_params) if request is not None else {}
    wanted = (query.get("tab") or ("study" if query.get("study") else "")).strip().lower()
    if wanted in {module for _, module, _ in TABS}:
        return gr.Tabs(selected=wanted)
    return gr.skip()


# Long unbroken words in our messages (a rater's personal link, a token, a weights path) wrap
# instead of running past the edge of a phone screen, where the rest of the link was cut off.
STUDIO_CSS = ".prose code { overflow-wrap: anywhere; }"


def launch_kwargs() -> dict:
    """Launch options every server needs: plotly.js (for the sphere) is served from the plotly
    package so the page works offline; the studio's few style rules (STUDIO_CSS)."""
    from emo_app.ui.sphere_plot import plotly_js_path

    return {"allowed_paths": [str(plotly_js_path().parent)], "css": STUDIO_CSS}


QUEUE_SIZE = 64
# Requests running at once per event: on the 2-core reference machine, 2 gave 11.3 req/s and
# p99 1.87 s for 16 clients where 4 gave 10.7 req/s and p99 2.12 s (threads fighting for the GIL).
QUEUE_CONCURRENCY = 2
# Queue positions go to waiting clients once a second instead of to every waiting client each
# time any request starts (Gradio's "auto"): about 10% less server CPU per request with 16
# clients (load test, 90-100 ms against 103-106 ms).
QUEUE_STATUS_SECONDS = 1.0


def warm_up_and_freeze(text: str = "A calm, neutral expression.") -> bool:
    """Run one describe (every page load does: it loads the text model, the renderer and the
    exporters), then move everything alive into the collector's permanent generation.

    Why: with ~700k long-lived objects (torch, triton, gradio, the models) each full garbage
    collection took 0.4-0.9 s with the GIL held, stalling every request in flight about once a
    minute under load; frozen objects are never rescanned. Returns False (and only logs) when
    the describe fails, e.g. missing weights: the app still serves and says why per request."""
    import gc
    import time

    from emo_app import services

    # the terminal says what the first description waits for (30-60 s on a CPU)
    log.info("Loading the text model and the face for the first description...")
    started = time.perf_counter()
    try:
        services.describe(text)
    except Exception as exc:  # the request path reports the same error to the user
        log.warning("warm-up describe failed (%s); serving without it", exc)
        return False
    finally:
        gc.collect()
        gc.freeze()
    log.info("Ready: the text model and the face loaded in %.0f s.", time.perf_counter() - started)
    return True


def log_user_mistakes() -> None:
    """The server log gets one INFO line per refused request (``emo_app.ui``: empty text, no
    face found), while everything else keeps the WARNING level and real faults their tracebacks."""
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ui_log = logging.getLogger("emo_app.ui")
    if ui_log.level == logging.NOTSET:
        ui_log.setLevel(logging.INFO)


def launch(host: str | None = None, port: int | None = None, mcp: bool = False, share: bool = False):
    """Serve the studio with a bounded queue (GPU work shares one concurrency id). A background
    thread warms the describe path while the server starts (``warm_up_and_freeze``)."""
    import threading

    settings = Settings.from_env()
    log_user_mistakes()
    demo = build_app(settings)
    threading.Thread(target=warm_up_and_freeze, name="warm-up", daemon=True).start()
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=QUEUE_CONCURRENCY,
               status_update_rate=QUEUE_STATUS_SECONDS)
    return demo.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        share=share,
        mcp_server=mcp,
        show_error=True,
        **launch_kwargs(),
    )
