"""Reading a number costs bounded memory and work whatever the image: scribbles, noise, specks, huge canvases.

Memory is the tracemalloc peak over the decoded image itself (as for one digit); work is
counted, never timed: at most two calls of the model, the first with at most one row per digit
group and join, the second with at most MAX_PIECES rows. Time is measured in
benchmarks/bench_read.py.
"""

import tracemalloc

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from btf.digits import cuts, numbers, segment
from btf.images import imagefile
from btf.images.imagefile import ImageError
from tests.support.numbers import pen_number, png, predict

BUDGET = 64 * 1024 * 1024
FIRST_CALL = segment.MAX_DIGITS * numbers.MAX_JOIN  # each group, and each run of up to MAX_JOIN groups


class Counting:
    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, x):
        self.calls.append(len(x))
        return predict(x)


def read_counted(data: bytes) -> tuple[numbers.Reading | None, Counting, int]:
    """(reading or None if refused, the model calls, peak bytes over the decoded image)."""
    header = imagefile.read_header(data)
    decoded = header.decoded_bytes
    counting = Counting()
    tracemalloc.start()
    try:
        reading = numbers.read_image(data, counting)
    except ImageError as exc:
        assert exc.code in ("no_digit", "too_many_digits")
        reading = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return reading, counting, peak - decoded


def check_bounds(reading, counting: Counting, over: int) -> None:
    assert over <= BUDGET
    assert len(counting.calls) <= 2
    if counting.calls:
        assert counting.calls[0] <= FIRST_CALL
    if len(counting.calls) == 2:
        assert counting.calls[1] <= numbers.MAX_PIECES
    if reading is not None:
        assert 1 <= len(reading.digits) <= numbers.MAX_DIGITS
        assert all(np.isfinite(d.confidences).all() for d in reading.digits)


def specks(n: int, size=(300, 1200), seed=0) -> np.ndarray:
    img = np.full(size, 255, np.uint8)
    rng = np.random.default_rng(seed)
    for x, y in zip(rng.integers(0, size[1], n), rng.integers(0, size[0], n)):
        cv2.circle(img, (int(x), int(y)), int(rng.integers(1, 4)), 0, -1)
    return img


@pytest.mark.parametrize(
    "img",
    [
        specks(1000),
        np.hstack([pen_number("42"), specks(1000, (180, 600))]),
        np.random.default_rng(0).integers(0, 256, (2000, 2000), dtype=np.uint8),  # noise everywhere
        np.full((3500, 3500), 255, np.uint8),  # near the per-request pixel limit
        np.full((4, 20_000), 0, np.uint8),
        cv2.resize(pen_number("123456789012"), None, fx=4, fy=4),
    ],
    ids=["1000-specks", "number-and-specks", "noise-2000", "blank-3500", "sliver", "12-digits-x4"],
)
def test_pathological_images_cost_bounded_memory_and_calls(img):
    check_bounds(*read_counted(png(img)))


def test_twelve_digits_take_one_or_two_calls():
    reading, counting, over = read_counted(png(pen_number("918273645012")))
    assert reading.text == "918273645012"
    check_bounds(reading, counting, over)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(20, 1500),
    width=st.integers(20, 3000),
    strokes=st.integers(1, 40),
    dots=st.integers(0, 300),
    pen=st.integers(1, 30),
    seed=st.integers(0, 2**16),
)
@example(height=300, width=3000, strokes=40, dots=300, pen=6, seed=0)
@example(height=1500, width=1500, strokes=40, dots=0, pen=30, seed=1)
@example(height=20, width=3000, strokes=1, dots=0, pen=1, seed=0)
def test_random_scribbles_cost_bounded_memory_and_calls(height, width, strokes, dots, pen, seed):
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 255, np.uint8)
    for _ in range(strokes):
        points = rng.integers(0, [width, height], (int(rng.integers(2, 6)), 2)).astype(np.int32)
        cv2.polylines(img, [points], False, 0, pen, cv2.LINE_AA)
    for x, y in zip(rng.integers(0, width, dots), rng.integers(0, height, dots)):
        cv2.circle(img, (int(x), int(y)), 1, 0, -1)
    check_bounds(*read_counted(png(img)))


def test_candidate_cuts_stay_within_their_caps(monkeypatch):
    seen = []
    real = cuts.candidate_cuts
    monkeypatch.setattr(cuts, "candidate_cuts", lambda ink, stroke: seen.append(real(ink, stroke)) or seen[-1])
    img = np.full((200, 2400), 255, np.uint8)
    for k in range(12):  # twelve wide, touching blobs of scribble
        cv2.ellipse(img, (100 + 190 * k, 100), (110, 60), 0, 0, 360, 0, 12)
    check_bounds(*read_counted(png(img)))
    assert all(len(found) <= cuts.MAX_CUTS for found in seen)
