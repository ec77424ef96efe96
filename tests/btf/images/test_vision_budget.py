"""Preprocessing costs bounded memory and work for every image within the limits (issue: hardening #1).

Memory is measured with tracemalloc (numpy and OpenCV's Python-visible arrays) as the peak
over the decoded image itself; work is bounded by construction: the analysis canvas is at
most WORK_SIDE a side and no structuring element is over the clamp. Time is measured in
benchmarks/bench_preprocess.py, never asserted here.
"""

import contextlib
import tracemalloc

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from btf.images import imagefile, vision
from btf.images.vision import ImageError, decode_gray, image_to_input
from tests.support.images import encode as png

BUDGET = 64 * 1024 * 1024


def peak_over_decode(data: bytes) -> int:
    decoded = imagefile.read_header(data).decoded_bytes
    tracemalloc.start()
    try:
        image_to_input(data)
    except ImageError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak - decoded


@pytest.fixture
def kernels(monkeypatch):
    sizes = []
    real = cv2.getStructuringElement

    def spy(shape, size):
        sizes.append(size)
        return real(shape, size)

    monkeypatch.setattr(vision.cv2, "getStructuringElement", spy)
    return sizes


def solid_square(side, margin):
    img = np.full((side, side), 255, np.uint8)
    img[margin : side - margin, margin : side - margin] = 0
    return img


@pytest.mark.parametrize(
    "img",
    [
        solid_square(3500, 10),  # the 20 s / 2.3 GB report, scaled up to the pixel limit
        solid_square(600, 1),
        np.zeros((20_000, 1), np.uint8) + 255 * (np.arange(20_000) % 3 == 0)[:, None].astype(np.uint8),
        np.full((1, 20_000), 0, np.uint8),
        np.dstack([np.zeros((3000, 3000, 3), np.uint8), np.eye(3000, dtype=np.uint8) * 255]),  # RGBA diagonal
    ],
    ids=["square-3500", "square-flush", "sliver-tall", "sliver-wide", "rgba-diagonal"],
)
def test_pathological_images_cost_bounded_memory_and_kernels(img, kernels):
    data = png(img)
    assert peak_over_decode(data) <= BUDGET
    assert all(max(size) <= vision._MAX_KERNEL for size in kernels)
    with contextlib.suppress(ImageError):
        assert max(decode_gray(data).shape) <= imagefile.WORK_SIDE


def test_sixteen_bit_rgba_is_refused_by_decoded_bytes_not_pixels():
    img = np.zeros((1200, 1200, 4), np.uint16)  # 1.44 MP, 11.5 MB decoded
    img[..., 3] = 65535
    data = png(img)
    with pytest.raises(ImageError) as err:
        image_to_input(data, max_pixels=2_000_000)  # within the pixel count, twice the bytes
    assert err.value.code == "image_too_large" and "MB" in str(err.value)
    assert image_to_input(png(solid_square(300, 60)), max_pixels=2_000_000).shape == (784,)


shapes = st.sampled_from(["solid", "line", "noise", "ring"])


# The kernel spy only accumulates sizes, so sharing it across examples is harmless.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=shapes,
    height=st.integers(1, 3000),
    width=st.integers(1, 3000),
    thickness=st.integers(1, 400),
    seed=st.integers(0, 2**16),
)
@example(kind="solid", height=2000, width=2000, thickness=1, seed=0)
@example(kind="line", height=3000, width=1, thickness=1, seed=0)
@example(kind="noise", height=1500, width=1500, thickness=1, seed=1)
def test_any_shape_costs_bounded_memory_and_kernels(kind, height, width, thickness, seed, kernels):
    img = np.full((height, width), 255, np.uint8)
    if kind == "solid":
        img[height // 8 : height - height // 8, width // 8 : width - width // 8] = 0
    elif kind == "line":
        cv2.line(img, (0, 0), (width - 1, height - 1), 0, thickness)
    elif kind == "ring":
        cv2.circle(img, (width // 2, height // 2), max(1, min(height, width) // 3), 0, thickness)
    else:
        img = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    data = png(img)
    assert peak_over_decode(data) <= BUDGET
    assert all(max(size) <= vision._MAX_KERNEL for size in kernels)
    try:
        x = image_to_input(data)
    except ImageError as exc:
        assert exc.code == "no_digit"
    else:
        assert x.shape == (784,) and np.isfinite(x).all() and 0 <= x.min() <= x.max() <= 1
