"""Shows the load and soak figures at the end of the run: they are what these tests are for."""

import json

import pytest

_FIGURES = pytest.StashKey[list]()


@pytest.fixture
def report_figures(request):
    """``report_figures(name, figures)``: print them in the run's closing summary, passed or failed."""
    shown = request.config.stash.setdefault(_FIGURES, [])
    return lambda name, figures: shown.append((name, figures))


def pytest_terminal_summary(terminalreporter, config):
    figures = config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("performance figures")
        for name, values in figures:
            terminalreporter.write_line(f"{name}: {json.dumps(values)}")
