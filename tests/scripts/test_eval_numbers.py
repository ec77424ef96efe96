"""scripts.eval_numbers: what counts as /read answering a drawing that is not a number."""

from types import SimpleNamespace

import numpy as np
import pytest

from btf.digits import evaluation, negatives
from scripts import cli, eval_numbers
from tests.support.numbers import pen_number, png, predict


def test_a_number_for_a_non_digit_counts_as_a_wrong_answer():
    assert eval_numbers.read_non_digit(png(pen_number("42")), predict)  # read as a number: counted
    blank = png(np.full((100, 300), 255, np.uint8))
    assert not eval_numbers.read_non_digit(blank, predict)  # no_digit: nothing answered


def test_a_question_mark_or_no_digit_is_the_right_answer(monkeypatch):
    for text, wrong in [("1?2", False), ("?", False), ("-", False), ("3.5", True), ("-7", True)]:
        monkeypatch.setattr(eval_numbers, "read_image", lambda image, predict, t=text: SimpleNamespace(text=t))
        assert eval_numbers.read_non_digit(b"", predict) is wrong


def test_the_non_digits_are_the_gates_held_out_drawings_and_reproducible():
    a, b = eval_numbers.non_digits(6), eval_numbers.non_digits(6)
    assert a == b and all(p[:4] == b"\x89PNG" for p in a)
    held_out = negatives.render(6, seed=evaluation.GATE_SEED, split="heldout", kinds=evaluation.HELD_OUT_KINDS)
    assert a == [png for _, png in held_out]
    assert a != [png for _, png in negatives.render(6, seed=evaluation.GATE_SEED, kinds=evaluation.HELD_OUT_KINDS)]


def test_too_many_non_digits_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        eval_numbers.main(["--non-digits", str(eval_numbers.MAX_NON_DIGITS + 1)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.count("\n") == 0 and "--non-digits must be 0 to 100,000" in err


@pytest.mark.parametrize("n", ["0", "-3", str(cli.MAX_NUMBERS + 1)])
def test_a_count_of_numbers_out_of_range_is_one_line_and_exit_2(capsys, n):
    with pytest.raises(SystemExit) as exit_info:
        eval_numbers.main(["-n", n])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.count("\n") == 0 and "-n must be 1 to 10,000" in err
