"""The drawing page in a real browser: Debian's Chromium driven by Playwright against the app on 127.0.0.1.

Draws digits and whole numbers ("42", "2026") with mouse strokes, checks the number read, each
digit's 28x28 input under it, the ten bars and the model version; switches model, checks the
blank-canvas error, reads a number on a 375 px wide phone screen, and saves a screenshot.
"""

import math
import shutil
import time
from pathlib import Path

import pytest

from btf.store import open_store, registry
from infra.apigw import http_event
from tests.support.api import Api
from tests.support.server import serve

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
# Strokes on the 560x280 canvas, as lists of points.
DIGITS = {
    1: [[(140, 40), (140, 240)]],
    7: [[(70, 60), (210, 60), (120, 240)]],
    0: [[(140, 40), (80, 80), (70, 140), (80, 200), (140, 240), (200, 200), (210, 140), (200, 80), (140, 40)]],
}


def two(x):
    return [[(x + 5, 85), (x + 30, 55), (x + 70, 50), (x + 95, 80), (x + 90, 125), (x + 5, 235), (x + 105, 235)]]


def zero(x):
    return [[(x + 50 + 45 * math.sin(a / 8 * math.pi), 145 - 90 * math.cos(a / 8 * math.pi)) for a in range(17)]]


def six(x):
    return [
        [
            (x + 85, 50),
            (x + 40, 100),
            (x + 15, 170),
            (x + 30, 225),
            (x + 65, 238),
            (x + 95, 210),
            (x + 95, 170),
            (x + 60, 150),
            (x + 25, 175),
        ]
    ]


# A 4 in two strokes, then a 2; and a year.
NUMBERS = {
    "42": [[(190, 50), (90, 170), (230, 170)], [(190, 90), (190, 240)], *two(290)],
    "2026": [*two(25), *zero(165), *two(300), *six(435)],
}


@pytest.fixture(scope="module")
def shipped_app():
    """The app on the shipped models (read only), one for the module's tests."""
    return Api.build(str(ROOT / "models"))


@pytest.fixture(scope="module")
def server(shipped_app):
    with serve(shipped_app.app) as url:
        yield url + "/"


@pytest.fixture
def page(server):
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
    """Mouse strokes given in canvas pixels (560x280), scaled to the canvas as laid out."""
    box = page.locator("#pad").bounding_box()
    sx, sy = box["width"] / 560, box["height"] / 280
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * sx, box["y"] + y * sy)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=8)
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
        assert page.text_content("#number") == str(digit) and page.is_hidden("#nodigit")
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
    guess = page.text_content("#number")
    assert guess.startswith("Closest guess: ") and guess[-1].isdigit()
    assert "Not a digit" in page.text_content("#meta")
    sizes = page.evaluate(
        "['nodigit', 'number'].map(id => parseFloat(getComputedStyle(document.getElementById(id)).fontSize))"
    )
    assert sizes[1] < sizes[0]  # the guess is smaller than the verdict
    page.click("#clear")  # and clearing puts the page back
    assert page.is_hidden("#nodigit") and page.text_content("#number") == "–"


def read_number(page, text):
    page.click("#clear")
    draw(page, NUMBERS[text])
    wait_until(page, "(t) => document.getElementById('number').textContent === t", text)
    wait_for_answer(page, LATEST)


@pytest.mark.parametrize("text", ["42", "2026"])
def test_draw_a_number_and_see_what_the_model_saw(page, text):
    read_number(page, text)
    assert page.locator("#seen li").count() == len(text)
    assert [t.strip() for t in page.locator("#seen .read").all_text_contents()] == list(text)
    # Each digit's 28x28 input is shown, decoded from the answer's PNG, under the number.
    sizes = page.eval_on_selector_all("#seen img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    assert sizes == [[True, 28, 28]] * len(text)
    assert all(p.endswith("%") for p in page.locator("#seen .pct").all_text_contents())
    # Clicking a digit shows its ten confidences.
    page.locator("#seen button").nth(1).click()
    assert page.get_attribute("#seen li:nth-child(2) button", "aria-pressed") == "true"
    widths = page.eval_on_selector_all("#bars .fill", "els => els.map(e => parseFloat(e.style.width))")
    assert max(widths) == widths[int(text[1])] and "digit 2" in page.text_content("#bars-title")


def test_a_number_on_a_phone_screen(page):
    page.set_viewport_size({"width": 375, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the screen
    box = page.locator("#pad").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["width"] >= 300
    read_number(page, "42")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for chip in page.locator("#seen button").all():
        chip_box = chip.bounding_box()
        assert chip_box["x"] + chip_box["width"] <= 375 and chip_box["height"] >= 44  # a finger's target


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
    assert "No digit found" in page.text_content("#error") and page.locator("#seen li").count() == 0
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


def test_page_comes_back_through_the_lambda_handler(shipped_app):
    status, headers, body = shipped_app.invoke(http_event("GET", "/"))
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert '<canvas id="pad"' in body and 'fetch(api("read")' in body
    assert "http://" not in body and "https://" not in body  # every URL relative, no CDN
