"""A person in a real browser (Playwright driving Debian's chromium): type a description and
see the face; a failed action keeps the face; score an edited face; click the emotion sphere;
open a rater's study link and land on the first item. Screenshots go to a temporary folder."""

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
def shots(tmp_path_factory) -> Path:
    """Where the screenshots go: a temporary folder, never the source tree, unless
    EMO_SCREENSHOTS names one (``make screenshots`` refreshes the README's images in docs/)."""
    folder = os.environ.get("EMO_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    """The server's study database: a small study with one rater, made before it starts."""
    from emo_app.study import service
    from emo_app.study.db import StudyDB

    db = StudyDB(tmp_path_factory.mktemp("study") / "study.sqlite3")
    admin = service.create_admin_token(db)
    service.create_study_from_points(db, admin, "pilot", parts=1, per_part=60)
    _, token = service.add_rater(db, admin, "pilot", "Ann")
    return db, token


@pytest.fixture(scope="module")
def app_url(study_db):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMO_STUDY_DB", str(study_db[0].path))
        with running_studio() as url:
            yield url


@pytest.fixture(scope="module")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_url, wait_until="domcontentloaded")
    yield page
    page.close()


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


SURPRISE = "Wide eyes and a mouth agape in sheer surprise, head thrown back."


def test_type_a_description_and_see_the_face(page, app_url, shots):
    first = _image_src(page, "describe-front")  # the first screen already shows a face
    page.locator("#describe-text textarea").fill(SURPRISE)
    page.locator("#describe-go").click()
    page.wait_for_function(
        "old => { const i = document.querySelector('#describe-front img'); return i && i.src !== old; }",
        arg=first, timeout=120_000,
    )
    page.get_by_text("Dominant emotion: surprise").wait_for(timeout=60_000)
    # gr.Model3D draws the GLB (morph targets set, photo texture) in the page's own WebGL viewer
    drawn = _wait_for_drawing(page.locator("#describe-model3d canvas").first)
    assert drawn > 0.05, f"the 3D viewer stayed blank ({drawn:.1%} of its pixels drawn)"
    page.screenshot(path=str(shots / "describe.png"), full_page=False)
    # the page copies the predicted weights into the shape sliders (in the browser, not /describe)
    from gradio_client import Client

    api = Client(app_url, verbose=False, download_files=False, analytics_enabled=False)
    result = api.predict(SURPRISE, "embedded", api_name="/describe")
    predicted = result[9]["blendshapes"]["jawOpen"]
    assert predicted > 0.2
    page.get_by_text("Edit any shape").click()
    page.locator("#shapes-jaw .label-wrap").first.click()
    slider = page.locator("#slider-jawOpen input[type=number]")
    slider.wait_for(state="visible", timeout=30_000)
    assert abs(float(slider.input_value()) - predicted) <= 0.01
    # and the head's pose into the head sliders: the words threw the head back
    page.locator("#shapes-head-pose .label-wrap").first.click()
    nod = page.locator("#slider-head-pitch input[type=number]")
    nod.wait_for(state="visible", timeout=30_000)
    assert float(nod.input_value()) == result[9]["head_pose"]["pitch"] > 10


def test_play_shows_the_face_moving_and_a_new_face_hides_the_old_take(page):
    """*Play it* shows a video of the face on screen making its expression, playing on its own
    and looping; the take's files come with it; making another face hides that take."""
    page.locator("#describe-play").click()
    video = page.locator("#describe-take video")
    video.wait_for(timeout=120_000)
    page.wait_for_function(  # it plays by itself: time moves without a click
        "() => { const v = document.querySelector('#describe-take video');"
        " return v && v.readyState >= 2 && !v.paused && v.currentTime > 0.2; }", timeout=60_000)
    assert video.evaluate("v => v.loop") and 2.5 < video.evaluate("v => v.duration") < 4.5  # 3 s for surprise
    files = page.locator("#describe-take-files").inner_text().replace("\n", "")  # a name wraps at its dot
    assert "-take.glb" in files and "-take-live-link-face.csv" in files
    page.locator("#describe-text textarea").fill("A calm, neutral expression.")
    page.locator("#describe-go").click()
    page.locator("#describe-take").wait_for(state="hidden", timeout=120_000)
    assert not page.locator("#describe-take-files").is_visible()


def test_click_the_sphere_and_see_the_nearest_class_and_face_change(page, shots):
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
    # a weaker expression: r = 0.5 (inside the sphere); a click on the surface keeps it
    radius = page.locator("#sphere-r input[type=number]")
    radius.fill("0.5")
    radius.press("Tab")
    heading.get_by_text("r 0.50").wait_for(timeout=120_000)
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
        if not _press_on_sphere(page, x, y):
            continue  # nothing under this spot: try the next one
        page.wait_for_function(  # the click reached the server and the heading answered
            "old => { const h = document.querySelector('#sphere-nearest');"
            " return h && h.innerText !== old; }",
            arg=before_text, timeout=60_000,
        )
        changed = True
        break
    assert changed, "clicking the sphere did not select a point"
    assert "Nearest class" in heading.inner_text() and "r 0.50" in heading.inner_text()
    page.wait_for_function(
        "old => { const i = document.querySelector('#sphere-face img'); return i && i.src !== old; }",
        arg=before_face, timeout=60_000,
    )
    page.screenshot(path=str(shots / "sphere.png"), full_page=False)
    # a click that hits nothing says so, and the point stays
    page.wait_for_function("() => !document.querySelector('#sphere-nearest .progress-text')", timeout=120_000)
    chosen = heading.inner_text()
    page.mouse.click(box["x"] + 8, box["y"] + box["height"] - 8)
    page.get_by_text("did not land on the sphere").first.wait_for(timeout=30_000)
    assert heading.inner_text() == chosen
    page.get_by_role("button", name="Go to the neutral centre").click()
    heading.get_by_text("Nearest class: Neutral").wait_for(timeout=120_000)


def _press_on_sphere(page, x: float, y: float) -> bool:
    """Hover (x, y) until plotly's WebGL picking has a point there (False if none), then hold
    the button until plotly_click has fired: plotly reports a 3D click from its render loop
    while the button is down, and a quick down/up can fall between two WebGL frames."""
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)
    try:
        page.wait_for_function(
            "() => { const p = document.querySelector('#emo-sphere .emo-sphere-plot');"
            " const s = p && p._fullLayout && p._fullLayout.scene && p._fullLayout.scene._scene;"
            " return !!(s && s.glplot && s.glplot.selection && s.glplot.selection.dataCoordinate); }",
            timeout=15_000)
    except Exception:
        return False
    page.evaluate("() => { window.__sphereClicked = false;"
                  " document.querySelector('#emo-sphere .emo-sphere-plot')"
                  ".once('plotly_click', () => { window.__sphereClicked = true; }); }")
    page.mouse.down()
    try:
        page.wait_for_function("() => window.__sphereClicked", timeout=15_000)
    finally:
        page.mouse.up()
    return True


def test_a_click_on_the_sphere_lands_where_it_was_made(page):
    """Plotly names the sphere's nearest grid vertex, 13 degrees apart, so clicks a few pixels
    apart all chose the same point; three clicks 5 px apart now give three nearby points."""
    import re

    page.get_by_role("tab", name="Emotion sphere").click()
    heading = page.locator("#sphere-nearest")
    heading.get_by_text("Nearest class").wait_for(timeout=120_000)
    plot = page.locator("#emo-sphere .emo-sphere-plot")
    page.wait_for_function("() => { const p = document.querySelector('#emo-sphere .emo-sphere-plot');"
                           " return p && p.dataset.bound === '1'; }", timeout=60_000)
    radius = page.locator("#sphere-r input[type=number]")  # a value no other test leaves there
    radius.fill("0.9")
    radius.press("Tab")
    heading.get_by_text("r 0.90").wait_for(timeout=120_000)
    box = plot.bounding_box()
    assert box is not None
    chosen: list[tuple[float, ...]] = []
    for dx, dy in [(0.45, 0.5), (0.55, 0.45), (0.5, 0.6), (0.42, 0.55)]:
        x0, y = box["x"] + box["width"] * dx, box["y"] + box["height"] * dy
        chosen = []
        for shift in (0, 5, 10):
            for pending in ("emo-sphere", "sphere-face", "sphere-nearest"):
                _wait_until_idle(page, pending)
            page.wait_for_timeout(1000)  # plotly redraws the new figure before it picks again
            before = heading.inner_text()
            if not _press_on_sphere(page, x0 + shift, y):
                break
            try:  # the server has answered (the same point leaves the heading as it was)
                page.wait_for_function("old => { const h = document.querySelector('#sphere-nearest');"
                                       " return h.innerText !== old && !h.querySelector('.progress-text'); }",
                                       arg=before, timeout=20_000)
            except Exception:
                pass
            found = re.search(r"valence ([-+]\d\.\d\d), arousal ([-+]\d\.\d\d), Z ([-+]\d\.\d\d)",
                              heading.inner_text())
            assert found, heading.inner_text()
            chosen.append(tuple(float(v) for v in found.groups()))
        if len(chosen) == 3:
            break
    assert len(chosen) == 3, "no spot on the sphere could be clicked three times"
    assert len(set(chosen)) == 3, chosen  # each click its own point
    steps = [max(abs(a - b) for a, b in zip(p, q)) for p, q in zip(chosen, chosen[1:])]
    assert all(step < 0.15 for step in steps), chosen  # and near the last: 5 px is a small move


def _wait_until_idle(page, elem_id: str) -> None:
    """No request still pending on the component (its progress overlay eats clicks)."""
    page.wait_for_function(f"() => !document.querySelector('#{elem_id} .progress-text')", timeout=120_000)


def test_a_failed_action_keeps_the_face_and_says_why(page):
    page.get_by_role("tab", name="Describe").click()
    before = _image_src(page, "describe-front")
    _wait_until_idle(page, "describe-front")
    page.locator("#describe-text textarea").fill("   ")
    page.locator("#describe-go").click()
    page.get_by_text("The description is empty").first.wait_for(timeout=60_000)
    _wait_until_idle(page, "describe-front")
    assert _image_src(page, "describe-front") == before  # the face is still there
    for elem_id in ("describe-front", "describe-summary", "describe-shapes"):
        assert page.locator(f"#{elem_id}").get_by_text("Error", exact=True).count() == 0, elem_id
    # a model whose weights are missing says how to get them, and the face stays too
    page.locator("#describe-text textarea").fill("A broad grin with eyes alight with cheer.")
    dropdown = page.get_by_label("Text model")
    dropdown.click()
    page.get_by_role("option", name="emo3d-vae-clip (unavailable)").click()
    page.locator("#describe-go").click()
    page.get_by_text("VAE_CLIP.pt").first.wait_for(timeout=60_000)
    _wait_until_idle(page, "describe-front")
    assert _image_src(page, "describe-front") == before
    assert page.locator("#describe-front").get_by_text("Error", exact=True).count() == 0
    dropdown.click()
    page.get_by_role("option", name="embedded", exact=True).click()


def test_score_this_face_scores_the_edited_face_on_screen(page, app_url):
    from gradio_client import Client

    from emo_app.blendshapes import ARKIT_NAMES

    text = "A calm, neutral expression."
    page.get_by_role("tab", name="Describe").click()
    page.locator("#describe-text textarea").fill(text)
    before = _image_src(page, "describe-front")
    page.locator("#describe-go").click()
    page.wait_for_function(
        "old => { const i = document.querySelector('#describe-front img'); return i && i.src !== old; }",
        arg=before, timeout=120_000)
    table = page.locator("#describe-score-table")
    page.locator("#describe-score").click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#describe-score-table');"
        " return t && !t.querySelector('.progress-text') && t.innerText.includes('MediaPipe re-read'); }",
        timeout=120_000)
    unedited = table.inner_text()

    slider = page.locator("#slider-jawOpen input[type=number]")
    if not slider.is_visible():
        page.get_by_text("Edit any shape").first.click()
        page.locator("#shapes-jaw .label-wrap").first.click()
    slider.wait_for(state="visible", timeout=30_000)
    shown = _image_src(page, "describe-front")
    slider.fill("1")
    slider.press("Tab")  # letting go of the slider redraws the face at once
    page.wait_for_function(
        "old => { const i = document.querySelector('#describe-front img'); return i && i.src !== old; }",
        arg=shown, timeout=120_000)
    page.locator("#describe-score").click()
    page.wait_for_function(
        "old => { const t = document.querySelector('#describe-score-table');"
        " return t && !t.querySelector('.progress-text') && t.innerText !== old; }",
        arg=unedited, timeout=120_000)
    edited = table.inner_text()

    # the same numbers as scoring the edited weights directly, not the described ones
    api = Client(app_url, verbose=False, download_files=False, analytics_enabled=False)
    state = api.predict(text, "embedded", api_name="/describe")[9]
    weights = dict(state["blendshapes"], jawOpen=1.0)
    rows, _, _ = api.predict(state, *[weights[n] for n in ARKIT_NAMES], "skin", api_name="/score_face")
    mse = next(row[1] for row in rows["data"] if row[0] == "MediaPipe re-read: MSE")
    assert str(mse) in edited and str(mse) not in unedited

    # changing the look redraws the face on screen at once
    shown = _image_src(page, "describe-front")
    page.locator("#describe-look").get_by_text("photo skin").click()
    page.wait_for_function(
        "old => { const i = document.querySelector('#describe-front img'); return i && i.src !== old; }",
        arg=shown, timeout=120_000)


def test_a_rater_link_opens_the_study_on_the_first_unrated_item(browser, app_url, study_db, shots):
    from emo_app.study import service

    db, token = study_db
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(f"{app_url}?study=pilot&rater={token}", wait_until="domcontentloaded")
        tab = page.get_by_role("tab", name="Study")
        page.wait_for_function(
            "() => [...document.querySelectorAll('[role=tab]')].some(t => t.innerText.trim() === 'Study'"
            " && t.getAttribute('aria-selected') === 'true')", timeout=60_000)
        assert tab.get_attribute("aria-selected") == "true"
        page.locator("#study-signed-in").get_by_text("Signed in as").wait_for(timeout=60_000)
        assert "Ann" in page.locator("#study-signed-in").inner_text()
        page.locator("#study-item").get_by_text("part 1, item 1").wait_for(timeout=120_000)
        _image_src(page, "study-face")
        page.screenshot(path=str(shots / "study-link.png"), full_page=False)
        # after one vote the same link lands on the next face to rate
        first = service.get_item(db, "pilot", "3d", 1, 1)
        service.cast_vote(db, "pilot", token, first.id, 4)
        page.goto(f"{app_url}?study=pilot&rater={token}", wait_until="domcontentloaded")
        page.locator("#study-item").get_by_text("part 1, item 2").wait_for(timeout=120_000)
    finally:
        page.close()


def _enrol(page, app_url, name):
    """Open the pilot study's link as a new rater and start rating under ``name``."""
    page.goto(f"{app_url}?study=pilot", wait_until="domcontentloaded")
    page.locator("#study-signed-in").get_by_text("enter your name").wait_for(timeout=60_000)
    page.get_by_label("Your name (first visit)").fill(name)
    page.get_by_role("button", name="Start rating").click()
    page.locator("#study-signed-in").get_by_text("Welcome").wait_for(timeout=60_000)


def test_a_new_rater_enrols_by_name_and_sees_the_first_face(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        _enrol(page, app_url, "Dee")
        link = page.locator("#study-signed-in code").first.inner_text()
        assert link.startswith(f"{app_url}?study=pilot&rater=")
        page.locator("#study-item").get_by_text("part 1, item 1").wait_for(timeout=120_000)
        page.goto(link, wait_until="domcontentloaded")  # the personal link brings Dee back
        page.locator("#study-signed-in").get_by_text("Signed in as").wait_for(timeout=60_000)
        assert "Dee" in page.locator("#study-signed-in").inner_text()
    finally:
        page.close()


def test_on_a_phone_the_new_raters_whole_personal_link_is_on_screen(browser, app_url):
    """At 400 px the link's token ran past the message's edge and was cut off."""
    page = browser.new_page(viewport={"width": 400, "height": 900})
    try:
        _enrol(page, app_url, "Phil")
        message = page.locator("#study-signed-in").bounding_box()
        for code in page.locator("#study-signed-in code").all():  # the link and the token
            box = code.bounding_box()
            assert box["x"] >= message["x"] and box["x"] + box["width"] <= message["x"] + message["width"] + 1
    finally:
        page.close()


def test_on_a_phone_a_vote_shows_the_next_face_in_view(browser, app_url):
    """The rated face stayed after *Submit vote*; at 400 px the rater scrolled a screen up to
    *Next unrated* and down again for each face. A refused vote stays on its face."""
    page = browser.new_page(viewport={"width": 400, "height": 860})
    try:
        _enrol(page, app_url, "Vi")
        page.locator("#study-item").get_by_text("part 1, item 1").wait_for(timeout=120_000)
        submit = page.get_by_role("button", name="Submit vote")
        submit.scroll_into_view_if_needed()
        submit.click()  # no score yet: stays, and says why beside the button
        page.locator("#study-vote-text").get_by_text("Choose a score").wait_for(timeout=60_000)
        assert "part 1, item 1" in page.locator("#study-item").inner_text()
        page.get_by_label("5", exact=True).locator("visible=true").first.check()
        submit.click()
        page.locator("#study-item").get_by_text("part 1, item 2").wait_for(timeout=120_000)
        assert "Saved: you rated part 1, item 1" in page.locator("#study-vote-text").inner_text()
        page.wait_for_function("() => Math.abs(document.getElementById('study-face')"
                               ".getBoundingClientRect().top) < 5", timeout=30_000)
    finally:
        page.close()


def test_on_a_phone_making_the_face_brings_it_into_view(browser, app_url):
    """At 400 px the face stacks under the inputs and ten examples, about 1200 px below the
    button: pressing it, or an example, now scrolls the face into view (a wide screen, where the
    face is already visible, does not move)."""
    page = browser.new_page(viewport={"width": 400, "height": 900})
    try:
        page.goto(app_url, wait_until="domcontentloaded")
        box = page.locator("#describe-text textarea")
        go = page.locator("#describe-go")
        # nothing to make: the page stays at the box, with the warning (no letters scrolled away)
        for refused, warning in (("", "The description is empty"), ("123 !!", "has no words in it")):
            box.fill(refused)
            go.scroll_into_view_if_needed()
            before = box.bounding_box()["y"]
            go.click()
            page.get_by_text(warning).first.wait_for(timeout=30_000)
            page.wait_for_timeout(700)  # a scroll would have begun by now
            assert abs(box.bounding_box()["y"] - before) < 50, f"{refused!r} scrolled away from its box"
        box.fill("Wide eyes and a mouth agape in sheer surprise.")
        assert page.locator("#describe-front").bounding_box()["y"] > 900  # below the screen at first
        page.locator("#describe-go").click()
        page.wait_for_function("document.getElementById('describe-front').getBoundingClientRect().top < 450",
                               timeout=30_000)
        _image_src(page, "describe-front")  # and the face arrives there
        # an example, ten buttons under Make the face, brings its face into view too (it stayed
        # below), also from an emptied box (the example brings its own text)
        box.fill("")
        example = page.locator("#describe-examples").get_by_text("A smug, one-sided smirk of contempt.")
        example.scroll_into_view_if_needed()
        assert page.locator("#describe-front").bounding_box()["y"] > 900 * 0.6
        example.click()
        page.wait_for_function("document.getElementById('describe-front').getBoundingClientRect().top < 450",
                               timeout=30_000)
    finally:
        page.close()


def test_on_a_phone_each_chart_has_the_whole_width_and_its_legend_clears_the_bars(browser, app_url):
    """At 400 px the two faces, the text's sphere, the emotions and the blendshapes shared rows at
    half width: the faces were 125 px wide, the emotions chart dropped every other name
    (happiness, the dominant one, among them), the blendshapes legend wrapped over the bars and
    the reasons and score tables ran off the screen's edge."""
    from emo_app.emotion.emotions import EMO3D_EMOTIONS

    page = browser.new_page(viewport={"width": 400, "height": 900})
    try:
        page.goto(app_url, wait_until="domcontentloaded")
        _image_src(page, "describe-front")
        for elem_id in ("describe-point-plot", "describe-emotions", "describe-shapes"):
            page.locator(f"#{elem_id} .main-svg").first.wait_for(timeout=60_000)
        for elem_id in ("describe-front", "describe-three-quarter", "describe-point-plot",
                        "describe-emotions", "describe-shapes"):  # at half width a face was 125 px wide
            assert page.locator(f"#{elem_id}").bounding_box()["width"] > 300, elem_id
        ticks = page.locator("#describe-emotions .xtick text")
        names = ticks.evaluate_all("ts => ts.map(t => t.textContent)")
        assert names == list(EMO3D_EMOTIONS)  # every name shown (plotly drops those that would overlap)
        shapes = page.locator("#describe-shapes")
        title = shapes.locator(".gtitle").bounding_box()
        legend = shapes.locator(".legend").bounding_box()
        bars = shapes.locator(".nsewdrag").first.bounding_box()
        assert title["y"] + title["height"] <= legend["y"] + 1
        assert legend["y"] + legend["height"] <= bars["y"] + 1
        # the reasons and the score wrap their sentences within the screen (they ran off its edge)
        page.locator("#describe-score").click()
        page.wait_for_function(
            "() => { const t = document.querySelector('#describe-score-table');"
            " return t && !t.querySelector('.progress-text') && t.innerText.includes('MediaPipe re-read'); }",
            timeout=120_000)
        for elem_id in ("describe-reasons", "describe-score-table"):
            table = page.locator(f"#{elem_id} table")
            assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth + 1"), elem_id
    finally:
        page.close()


def test_on_a_phone_the_walks_gif_and_mp4_each_have_the_screens_width(browser, app_url):
    """At 400 px the GIF and the MP4 of a walk shared one row, each face about 160 px wide."""
    page = browser.new_page(viewport={"width": 400, "height": 900})
    try:
        page.goto(app_url, wait_until="domcontentloaded")
        _image_src(page, "describe-front")
        page.get_by_label("More tabs").click()  # at 400 px the Walks tab is in the tabs' overflow menu
        page.locator(".overflow-dropdown button", has_text="Walks").click()
        page.get_by_role("button", name="Walk the face").click()
        _image_src(page, "walk-gif")
        for elem_id in ("walk-gif", "walk-mp4"):
            assert page.locator(f"#{elem_id}").bounding_box()["width"] > 300, elem_id
    finally:
        page.close()


def test_a_walks_example_of_the_same_kind_keeps_its_controls(browser, app_url):
    """Two between-classes examples in a row: loading the second put back the axis walk's
    controls (End class and Straight line hidden, "Class at the end of the axis") under
    "Between two classes", beside a straight-line walk the controls no longer showed."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(app_url, wait_until="domcontentloaded")
        _image_src(page, "describe-front")
        page.get_by_role("tab", name="Walks").click()
        _image_src(page, "walk-gif")  # the first visit's walk, before the examples' walks
        examples = page.locator("#walk-examples")
        for name in ("Happy → Sad over the sphere", "Happy → Sad, straight through neutral"):
            before = page.locator("#walk-gif img").first.get_attribute("src") if page.locator(
                "#walk-gif img").count() else ""
            examples.get_by_text(name).click()
            page.wait_for_function(
                "old => { const i = document.querySelector('#walk-gif img'); return i && i.src !== old; }",
                arg=before, timeout=120_000)
        assert page.get_by_label("End class").is_visible() and page.get_by_label("Start class").is_visible()
        assert page.get_by_label("Straight line instead of the great circle").is_checked()
    finally:
        page.close()


def test_the_walks_and_benchmark_tabs_show_a_result_on_the_first_visit(browser, app_url):
    """The Walks tab opened on five empty panels until "Walk the face" was pressed, Benchmark on
    an empty chart: the first visit plays the walk the controls set (neutral to happy), and runs
    the benchmark they set, each with its files."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(app_url, wait_until="domcontentloaded")
        _image_src(page, "describe-front")
        page.get_by_role("tab", name="Walks").click()
        assert _image_src(page, "walk-gif").endswith(".gif")
        downloads = page.locator("#walk-files a[href*='happy-axis-walk-9-steps']")
        downloads.first.wait_for(timeout=60_000)
        assert downloads.count() == 6  # GIF, MP4, GLB, CSV, JSON, grid
        assert page.locator("#walk-mp4 video").count() == 1
        assert page.locator("#walk-gif input[type=file]").count() == 0  # an output: no upload
        page.get_by_role("tab", name="Benchmark").click()
        reports = page.locator("#benchmark-files a[href*='report']")
        reports.first.wait_for(timeout=120_000)
        assert reports.count() == 3  # Markdown, CSV, PNG
        assert "Made when you opened this tab" in page.locator("#benchmark-notes").inner_text()
        table = page.locator("#benchmark-table")
        table.wait_for(state="visible", timeout=60_000)  # hidden until a run fills it
        assert "embedded" in table.inner_text()
        assert page.locator("#benchmark-files input[type=file]").count() == 0  # an output: no upload
    finally:
        page.close()


def test_the_capture_tab_shows_a_capture_on_the_first_visit_and_its_sample_photo(browser, app_url):
    """Capture opened on empty panels and needed a photo of one's own before it showed anything:
    the first visit captures the sample portrait (NASA's, shipped with scikit-image) and says
    so, leaving the photo box free; its example shows her own face performing a grin."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(app_url, wait_until="domcontentloaded")
        _image_src(page, "describe-front")
        page.get_by_role("tab", name="Capture").click()
        assert _image_src(page, "capture-front")
        message = page.locator("#capture-message")
        message.get_by_text("Captured from a sample portrait").wait_for(timeout=60_000)
        assert "1 face found." in message.inner_text()
        assert _wait_for_drawing(page.locator("#capture-model3d canvas").first) > 0.05
        assert page.locator("#capture-front input[type=file]").count() == 0  # an output: no upload
        page.locator("#capture-examples").get_by_text("Her own face performs a grin").click()
        message.get_by_text("Your face performs: happiness").wait_for(timeout=120_000)
        assert "Captured from a sample portrait" not in message.inner_text()  # the example's own
    finally:
        page.close()


def test_on_a_phone_the_captured_faces_each_have_the_screens_width(browser, app_url):
    """At 400 px Capture's front and three-quarter renders shared one row, each face about
    110 px wide (Describe's and the walk's already stacked)."""
    page = browser.new_page(viewport={"width": 400, "height": 900})
    try:
        page.goto(app_url, wait_until="domcontentloaded")
        _image_src(page, "describe-front")
        page.get_by_label("More tabs").click()
        page.locator(".overflow-dropdown button", has_text="Capture").click()
        page.locator("#capture-examples").get_by_text("Her expression, on our face").click()
        _image_src(page, "capture-front")
        for elem_id in ("capture-front", "capture-three-quarter"):
            assert page.locator(f"#{elem_id}").bounding_box()["width"] > 300, elem_id
    finally:
        page.close()
