"""benchmarks.number_failures sorts a misread number by what went wrong, from where each digit was drawn."""

import numpy as np
import pytest

from benchmarks.number_failures import overlap, what, why
from btf.digits import numbers
from scripts.eval_numbers import compose, stroke_glyph
from tests.support.numbers import predict


def digit(label: int, box: tuple[int, int, int, int], is_digit: bool = True) -> numbers.Digit:
    confidences = np.full(10, 0.01)
    confidences[label] = 0.91
    return numbers.Digit(label, confidences, is_digit, box, np.zeros(784, np.float32))


def drawn(text: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = [int(c) for c in text]
    return compose([stroke_glyph(d, rng) for d in labels], labels, rng, height=64)


def test_overlap_is_the_intersection_over_union_of_columns():
    assert overlap((0, 0, 10, 5), (0, 9, 10, 1)) == 1.0
    assert overlap((0, 0, 10, 5), (10, 0, 10, 5)) == 0.0
    assert overlap((0, 0, 10, 5), (5, 0, 10, 5)) == pytest.approx(5 / 15)


def test_compose_records_where_each_digit_was_drawn():
    number = drawn("307")
    assert len(number.boxes) == len(number.glyphs) == 3
    xs = [x for x, _, _, _ in number.boxes]
    assert xs == sorted(xs) and all(w > 0 and h > 0 for _, _, w, h in number.boxes)


def test_what_went_wrong():
    number = drawn("307")
    right = [digit(int(c), box) for c, box in zip("307", number.boxes)]

    def reading(found):
        return numbers.Reading("".join(str(d.label) for d in found), 0.5, found)

    assert what(number, reading(right[:2])) == ("too few pieces", [])
    assert what(number, reading(right + right[:1])) == ("too many pieces", [])
    moved = [digit(d.label, (d.box[0] + d.box[2], *d.box[1:])) for d in right]
    assert what(number, reading(moved)) == ("pieces in the wrong places", [])
    misread = [right[0], digit(8, right[1].box), digit(7, right[2].box, is_digit=False)]
    assert what(number, reading(misread)) == ("right pieces, a digit misread", ["0->8", "7->?"])


def test_why_finds_every_digit_among_the_candidates_of_a_number_read_right():
    number = drawn("2026", seed=3)
    assert numbers.read_image(number.image, predict).text == "2026"
    assert why(number, predict) == ("right candidates, chosen otherwise", [])


def test_why_blames_the_model_for_a_digit_it_misreads_even_alone():
    number = drawn("2026", seed=3)
    number.glyphs[1] = stroke_glyph(8, np.random.default_rng(1))  # what the model reads alone is no 0
    assert why(number, predict) == ("a digit the model misreads alone", [])


def test_bad_arguments_are_one_line_and_exit_2(capsys, monkeypatch):
    from benchmarks import number_failures

    with pytest.raises(SystemExit) as exit_info:
        number_failures.main(["-n", "0"])
    assert exit_info.value.code == 2 and "-n must be 1 to" in capsys.readouterr().err
    # An unknown category is named with the ones there are, before any data is loaded.
    monkeypatch.setattr(number_failures, "load", lambda _: pytest.fail("loaded the data"))
    with pytest.raises(SystemExit) as exit_info:
        number_failures.main(["-n", "1", "--category", "MNIST, seperate"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.count("\n") == 0
    assert "unknown category 'MNIST, seperate'" in err and "MNIST, separate" in err
