"""The drawing page in a real browser: Debian's Chromium driven by Playwright against the app on 127.0.0.1.

Draws digits with mouse strokes, checks the prediction, the ten bars and the model version,
switches model, checks the blank-canvas error, and saves a screenshot.
"""

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from btf.store import open_store, registry
from functions.predict import app as app_module
from infra.apigw import http_event
from tests.support.handler import invoke

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Strokes on the 280x280 canvas, as lists of points.
DIGITS = {
    1: [[(140, 40), (140, 240)]],
    7: [[(70, 60), (210, 60), (120, 240)]],
    0: [[(140, 40), (80, 80), (70, 140), (80, 200), (140, 240), (200, 200), (210, 140), (200, 80), (140, 40)]],
}


@pytest.fixture(scope="module")
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app_module.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(5)


@pytest.fixture
def page(server, use_store):
    use_store(str(ROOT / "models"))
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (scripts/test.sh does it)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 900, "height": 700})
        violations, errors = [], []
        page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
        # An API answer of 4xx is logged by the browser as a failed load: the page shows those itself.
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.type == "error" and "status of 4" not in msg.text else None,
        )
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status == 404 else None)
        response = page.goto(server)
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        wait_until(page, "document.querySelectorAll('#model option').length > 1")
        yield page
        # The page's own code ran under its Content-Security-Policy without a single violation,
        # the console shows no error, and nothing it asked for was missing (the favicon, say).
        assert violations == [] and errors == []
        browser.close()


def wait_until(page, predicate, arg=None, timeout=10.0):
    """Poll a JS predicate with page.evaluate (CDP), which the page's CSP allows; wait_for_function uses eval, which it forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(0.05)


def draw(page, strokes):
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        page.mouse.up()


# Whichever shipped version is promoted; no test pins a number that shipping a model changes.
LATEST = registry.latest_version(open_store(str(ROOT / "models")))


def wait_for_answer(page, version):
    wait_until(page, f"document.getElementById('meta').textContent.includes('Model v{version}')")


def test_draw_digits_and_read_the_answer(page):
    for digit, strokes in DIGITS.items():
        page.click("#clear")
        draw(page, strokes)
        wait_for_answer(page, LATEST)
        assert page.text_content("#digit") == str(digit) and page.is_hidden("#nodigit")
        assert page.locator("#bars li").count() == 10
        widths = page.eval_on_selector_all("#bars .fill", "els => els.map(e => parseFloat(e.style.width))")
        assert len(widths) == 10 and abs(sum(widths) - 100) < 1.5 and max(widths) == widths[digit]
        assert page.text_content("#error") == ""
        # The winning bar is really drawn (not just styled), once its short transition ends.
        wait_until(
            page,
            """(d) => {
                const li = document.querySelectorAll('#bars li')[d];
                return li.querySelector('.fill').getBoundingClientRect().width
                    > 0.5 * li.querySelector('.track').getBoundingClientRect().width;
            }""",
            digit,
            timeout=3,
        )


# Letters drawn with the mouse: the shipped model must call them "not a digit".
LETTERS = {
    "M": [[(60, 230), (60, 50), (140, 170), (220, 50), (220, 230)]],
    "X": [[(60, 50), (220, 230)], [(220, 50), (60, 230)]],
}


@pytest.mark.parametrize("letter", list(LETTERS))
def test_a_drawn_letter_is_not_a_digit_and_the_guess_is_shown_smaller(page, letter):
    page.click("#clear")
    draw(page, LETTERS[letter])
    wait_for_answer(page, LATEST)
    assert page.is_visible("#nodigit") and page.text_content("#nodigit") == "That doesn't look like a digit"
    guess = page.text_content("#digit")
    assert guess.startswith("Closest guess: ") and guess[-1].isdigit()
    assert "Not a digit" in page.text_content("#meta")
    sizes = page.evaluate(
        "['nodigit', 'digit'].map(id => parseFloat(getComputedStyle(document.getElementById(id)).fontSize))"
    )
    assert sizes[1] < sizes[0]  # the guess is smaller than the verdict
    page.click("#clear")  # and clearing puts the page back
    assert page.is_hidden("#nodigit") and page.text_content("#digit") == "–"


def test_pick_another_model(page):
    draw(page, DIGITS[7])
    wait_for_answer(page, LATEST)
    page.select_option("#model", "3")
    wait_for_answer(page, 3)
    assert "Model v3" in page.text_content("#meta")


def test_blank_canvas_shows_error_and_screenshot(page, tmp_path):
    page.click("#clear")
    page.click("#predict")
    wait_until(page, "document.getElementById('error').textContent.length > 0")
    assert "No digit found" in page.text_content("#error")
    draw(page, DIGITS[7])
    wait_for_answer(page, LATEST)
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_controls_are_labelled_and_keyboard_reachable(page):
    assert page.get_attribute("#pad", "aria-label")
    assert page.locator("label[for=model]").count() == 1
    assert page.get_attribute("#status", "aria-live") == "polite"
    page.focus("#clear")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "model"


def test_page_comes_back_through_the_lambda_handler(use_store):
    use_store(str(ROOT / "models"))
    status, headers, body = invoke(http_event("GET", "/"))
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert '<canvas id="pad"' in body and 'fetch(api("predict")' in body
    assert "http://" not in body and "https://" not in body  # every URL relative, no CDN
