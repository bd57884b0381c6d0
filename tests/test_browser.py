"""A person in a real browser (Playwright driving Debian's chromium): type a description and
see the face; click the emotion sphere and see the nearest class and the face change.
Screenshots go to a temporary folder; `make screenshots` writes them to docs/ for the README."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import running_studio

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """Where the screenshots go: EMO_SCREENSHOTS (``make screenshots``: docs/), else a temporary
    folder, so a test run leaves the tree as it found it."""
    folder = os.environ.get("EMO_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def app_url():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    with running_studio() as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(app_url, wait_until="domcontentloaded")
        yield page
        browser.close()


def _image_src(page, elem_id: str) -> str:
    locator = page.locator(f"#{elem_id} img")
    locator.first.wait_for(state="visible", timeout=120_000)
    return locator.first.get_attribute("src") or ""


def _wait_for_drawing(canvas, seconds: float = 120.0) -> float:
    """Fraction of a canvas's pixels that differ from its corner colour, polled until the viewer
    has drawn something (the GLB is fetched and parsed after the images arrive)."""
    import io
    import time

    import numpy as np
    from PIL import Image

    canvas.wait_for(state="visible", timeout=int(seconds * 1000))
    deadline, drawn = time.monotonic() + seconds, 0.0
    while time.monotonic() < deadline:
        pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), np.int16)
        drawn = float((np.abs(pixels - pixels[0, 0]).sum(axis=2) > 30).mean())
        if drawn > 0.05:
            break
        time.sleep(1.0)
    return drawn


def test_type_a_description_and_see_the_face(page, app_url, screenshots):
    first = _image_src(page, "describe-front")  # the first screen already shows a face
    page.locator("#describe-text textarea").fill("Wide eyes and a mouth agape in sheer surprise.")
    page.locator("#describe-go").click()
    page.wait_for_function(
        "old => { const i = document.querySelector('#describe-front img'); return i && i.src !== old; }",
        arg=first, timeout=120_000,
    )
    page.get_by_text("Dominant emotion: surprise").wait_for(timeout=60_000)
    # gr.Model3D draws the GLB (morph targets set, photo texture) in the page's own WebGL viewer
    drawn = _wait_for_drawing(page.locator("#describe-model3d canvas").first)
    assert drawn > 0.05, f"the 3D viewer stayed blank ({drawn:.1%} of its pixels drawn)"
    screenshots.mkdir(parents=True, exist_ok=True)  # the face, before the sliders scroll the page
    page.screenshot(path=str(screenshots / "describe.png"), full_page=False)
    # the page copies the predicted weights into the shape sliders (in the browser, not /describe)
    from gradio_client import Client

    api = Client(app_url, verbose=False, download_files=False, analytics_enabled=False)
    result = api.predict("Wide eyes and a mouth agape in sheer surprise.", "embedded", api_name="/describe")
    predicted = result[9]["blendshapes"]["jawOpen"]
    assert predicted > 0.2
    page.get_by_text("Edit any shape").click()
    page.locator("#shapes-jaw .label-wrap").first.click()
    slider = page.locator("#slider-jawOpen input[type=number]")
    slider.wait_for(state="visible", timeout=30_000)
    assert abs(float(slider.input_value()) - predicted) <= 0.01


def test_click_the_sphere_and_see_the_nearest_class_and_face_change(page, screenshots):
    page.get_by_role("tab", name="Emotion sphere").click()
    heading = page.locator("#sphere-nearest")
    heading.get_by_text("Nearest class").wait_for(timeout=120_000)
    plot = page.locator("#emo-sphere .emo-sphere-plot")
    plot.locator(".gl-container canvas, canvas").first.wait_for(timeout=60_000)
    page.wait_for_function(  # plotly has drawn the figure and our click handler is bound
        "() => { const p = document.querySelector('#emo-sphere .emo-sphere-plot');"
        " return p && p.dataset.bound === '1' && p.querySelector('.main-svg'); }",
        timeout=60_000,
    )
    page.wait_for_function(  # no request still pending on this tab (its overlay eats clicks)
        "() => !document.querySelector('#emo-sphere .progress-text, #sphere-face .progress-text,"
        " #sphere-nearest .progress-text')",
        timeout=120_000,
    )
    page.wait_for_timeout(1500)
    before_text = heading.inner_text()
    before_face = _image_src(page, "sphere-face")
    box = plot.bounding_box()
    assert box is not None
    changed = False
    # Hover a few spots on the sphere until plotly picks a point, then click it.
    spots = [(0.42, 0.55), (0.55, 0.45), (0.5, 0.6), (0.38, 0.4), (0.6, 0.62), (0.45, 0.35),
             (0.35, 0.6), (0.58, 0.55), (0.48, 0.48), (0.4, 0.66)]
    for dx, dy in spots:
        x, y = box["x"] + box["width"] * dx, box["y"] + box["height"] * dy
        page.mouse.move(x - 5, y - 5)
        page.mouse.move(x, y)
        try:  # wait until plotly's WebGL picking has a point under the pointer
            page.wait_for_function(
                "() => { const p = document.querySelector('#emo-sphere .emo-sphere-plot');"
                " const s = p && p._fullLayout && p._fullLayout.scene && p._fullLayout.scene._scene;"
                " return !!(s && s.glplot && s.glplot.selection && s.glplot.selection.dataCoordinate); }",
                timeout=15_000)
        except Exception:
            continue  # nothing under this spot: try the next one
        # plotly reports a 3D click from its render loop while the button is down, so hold it
        # until plotly_click has fired (a quick down/up can fall between two WebGL frames).
        page.evaluate("() => { window.__sphereClicked = false;"
                      " document.querySelector('#emo-sphere .emo-sphere-plot')"
                      ".once('plotly_click', () => { window.__sphereClicked = true; }); }")
        page.mouse.down()
        try:
            page.wait_for_function("() => window.__sphereClicked", timeout=15_000)
        finally:
            page.mouse.up()
        page.wait_for_function(  # the click reached the server and the heading answered
            "old => { const h = document.querySelector('#sphere-nearest');"
            " return h && h.innerText !== old; }",
            arg=before_text, timeout=60_000,
        )
        changed = True
        break
    assert changed, "clicking the sphere did not select a point"
    assert "Nearest class" in heading.inner_text()
    page.wait_for_function(
        "old => { const i = document.querySelector('#sphere-face img'); return i && i.src !== old; }",
        arg=before_face, timeout=60_000,
    )
    page.screenshot(path=str(screenshots / "sphere.png"), full_page=False)
