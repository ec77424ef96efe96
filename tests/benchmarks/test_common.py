"""The benchmarks' shared helpers: what was not measured prints as n/a, never nan."""

from benchmarks.common import ratio, shown


def test_unmeasured_figures_print_n_a_at_the_same_width():
    assert shown(None, "8.3f") == "     n/a" and shown(float("nan"), ".2f", " s") == "n/a"
    assert shown(ratio(2.0, None), "8.2f", "x") == "     n/a" and ratio(None, 1.0) is None
    assert shown(1.5, "8.3f") == "   1.500" and shown(ratio(3.0, 2.0), ".2f", "x") == "1.50x"
