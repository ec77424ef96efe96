"""The row layout of a number: strokes grouped into digits, decimal points, a leading minus, specks ignored."""

import cv2
import numpy as np
import pytest

from btf.digits import segment
from btf.images.imagefile import ImageError
from btf.images.vision import ink_layer
from tests.support.numbers import PEN, draw_digit, pen_number


def lay_out(img: np.ndarray) -> segment.Layout:
    ink, threshold = ink_layer(img.copy())
    return segment.layout(ink, threshold)


def lefts(lay: segment.Layout) -> list[int]:
    return [g.box.x for g in lay.groups]


def test_separate_digits_are_groups_left_to_right():
    lay = lay_out(pen_number("2026"))
    assert len(lay.groups) == 4
    assert lefts(lay) == sorted(lefts(lay))
    assert lay.points == {} and lay.minus is None
    assert 90 <= lay.height <= 115 and PEN * 0.6 <= lay.stroke <= PEN * 1.6


@pytest.mark.parametrize(
    ("digit", "variant"),
    [(4, 0), (4, 1), (5, 0), (7, 1)],
    ids=["4-two-strokes", "open-4", "5-with-its-flag", "crossed-7"],
)
def test_a_digit_drawn_in_several_strokes_is_one_group(digit, variant):
    canvas = np.full((200, 400), 255, np.uint8)
    draw_digit(canvas, 8, 30, 50)
    draw_digit(canvas, digit, 150, 50, variant=variant)
    draw_digit(canvas, 8, 270, 50)
    lay = lay_out(canvas)
    assert len(lay.groups) == 3
    assert len(lay.groups[1].labels) >= 1 and lay.groups[1].box.x >= 140


def test_a_detached_flag_over_its_digit_joins_it():
    canvas = np.full((200, 260), 255, np.uint8)
    draw_digit(canvas, 1, 30, 50)
    cv2.polylines(canvas, [np.array([[130, 80], [120, 145], [175, 150], [180, 185], [120, 150]])], False, 0, PEN)
    cv2.line(canvas, (128, 55), (190, 55), 0, PEN)  # a 5's flag, not touching the body
    lay = lay_out(canvas)
    assert len(lay.groups) == 2 and len(lay.groups[1].labels) == 2


def test_a_dot_low_between_two_digits_is_a_decimal_point():
    lay = lay_out(pen_number("3.14"))
    assert len(lay.groups) == 3 and list(lay.points) == [0]
    point = lay.points[0]
    assert lay.groups[0].box.x1 < point.cx < lay.groups[1].box.x


def test_specks_are_not_points_or_minus_signs():
    img = pen_number("314")
    for x, y, r in [(120, 60, 7), (120, 110, 7), (250, 40, 3), (20, 90, 2), (122, 132, 1)]:
        cv2.circle(img, (x, y), r, 0, -1)  # high, mid-height, tiny at the baseline, before the first digit
    lay = lay_out(img)
    assert len(lay.groups) == 3 and lay.points == {} and lay.minus is None


def test_points_follow_a_drifting_baseline_and_mixed_sizes():
    canvas = np.full((320, 560), 255, np.uint8)
    draw_digit(canvas, 2, 30, 40, height=100)
    draw_digit(canvas, 7, 130, 90, height=120)  # lower and taller
    cv2.circle(canvas, (232, 203), 8, 0, -1, cv2.LINE_AA)  # on the baseline between 7 and 5, 60 px lower than 2's
    draw_digit(canvas, 5, 260, 150, height=60)  # small and lower still
    lay = lay_out(canvas)
    assert len(lay.groups) == 3 and list(lay.points) == [1]


def test_a_flat_stroke_before_the_first_digit_at_mid_height_is_a_minus():
    lay = lay_out(pen_number("-42"))
    assert lay.minus is not None and lay.minus.x1 <= lay.groups[0].box.x and len(lay.groups) == 2


@pytest.mark.parametrize("where", ["top", "after", "far"])
def test_flat_strokes_elsewhere_are_not_a_minus(where):
    img = pen_number("42")
    pad = np.full((img.shape[0], 300), 255, np.uint8)
    img = np.hstack([pad, img, pad])
    y = {"top": 45, "after": 90, "far": 90}[where]
    x = {"top": 250, "after": img.shape[1] - 260, "far": 40}[where]
    cv2.line(img, (x, y), (x + 30, y), 0, PEN)
    lay = lay_out(img)
    assert lay.minus is None and len(lay.groups) == 2


def test_twelve_digits_fit_and_thirteen_are_refused():
    assert len(lay_out(pen_number("123456789012")).groups) == 12
    with pytest.raises(ImageError) as err:
        lay_out(pen_number("1234567890123"))
    assert err.value.code == "too_many_digits"


def test_blank_and_speck_only_images_have_no_digit():
    with pytest.raises(ImageError) as err:
        lay_out(np.full((100, 300), 255, np.uint8))
    assert err.value.code == "no_digit"


def test_a_thousand_specks_are_bounded_and_the_digits_still_found():
    img = pen_number("42")
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(0, img.shape[0], 1000), rng.integers(0, img.shape[1], 1000)
    img[ys, xs] = 0  # single-pixel specks
    ink, threshold = ink_layer(img.copy())
    lay = segment.layout(ink, threshold)
    assert len(lay.groups) == 2
    assert sum(len(g.labels) for g in lay.groups) <= segment.MAX_STROKES


def test_group_ink_is_only_the_groups_own_strokes():
    lay = lay_out(pen_number("11"))
    ink, box = segment.group_ink(lay, lay.groups[0])
    assert ink.shape == (box.h, box.w) and ink.max() > 200
    second = lay.groups[1].box
    assert box.x1 <= second.x + 1  # the neighbour's ink is not in the crop
