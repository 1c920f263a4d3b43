"""The experiments panel: hidden until the first result; the best so far and the counts."""

from __future__ import annotations

import pytest
from textual.app import App
from textual_plotext import PlotextPlot

from clive.session.events import ExperimentResult, ExperimentStatus, Note
from clive.ui.experiments_panel import ExperimentsPanel

pytestmark = pytest.mark.anyio


class _PanelApp(App[None]):
    def compose(self):
        yield ExperimentsPanel()


def _result(n, status, metric, best):
    return ExperimentResult(
        t=float(n), experiment=n, commit=f"c{n}", metric=metric, status=status,
        best_metric=best, best_commit="c0", description=f"try {n}",
    )  # fmt: skip


async def test_the_panel_shows_the_best_and_how_each_experiment_ended():
    app = _PanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ExperimentsPanel)
        panel.add_event(Note(step=1, text="not an experiment"))
        await pilot.pause()
        assert not panel.display, "hidden until there is a result"
        for event in [
            _result(0, ExperimentStatus.BASELINE, 0.021311, 0.021311),
            _result(1, ExperimentStatus.KEEP, 0.014419, 0.014419),
            _result(2, ExperimentStatus.DISCARD, 0.180179, 0.014419),
            _result(3, ExperimentStatus.INVALID, None, 0.014419),
            _result(4, ExperimentStatus.CRASH, None, 0.014419),
        ]:
            panel.add_event(event)
        await pilot.pause()
        assert panel.display
        assert panel.counts() == {"keep": 1, "discard": 1, "crash": 1, "invalid": 1, "lost": 0}
        counts = app.query_one("#experiment-counts").render_line(0).text
        assert counts.rstrip() == "best 0.014419  kept 1 · discarded 1 · crashed 1 · rejected 1"
        panel.clear()
        await pilot.pause()
        assert not panel.display


def _axis_numbers(plot: PlotextPlot) -> list[str]:
    """The labels under the plot's x axis (the line below its bottom border)."""
    lines = plot.render().plain.splitlines()
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    return lines[bottom + 1].split()


@pytest.mark.parametrize("experiments", [1, 3, 6, 40])
async def test_the_experiment_axis_shows_whole_numbers_only(experiments):
    app = _PanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ExperimentsPanel)
        panel.add_event(_result(0, ExperimentStatus.BASELINE, 1.0, 1.0))
        for n in range(1, experiments):
            panel.add_event(_result(n, ExperimentStatus.KEEP, 1 - n / 100, 1 - n / 100))
        await pilot.pause()
        numbers = _axis_numbers(app.query_one(PlotextPlot))
        assert numbers, "the axis is labelled"
        assert all(label.isdigit() for label in numbers), numbers
        assert int(numbers[0]) >= 0 and int(numbers[-1]) < experiments


async def test_a_plateau_and_a_held_out_regression_stand_out():
    app = _PanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ExperimentsPanel)
        panel.add_event(_result(0, ExperimentStatus.BASELINE, 5.0, 5.0))
        gamed = _result(1, ExperimentStatus.KEEP, 4.0, 4.0)
        panel.add_event(gamed.model_copy(update={"holdout_regressed": True}))
        stuck = _result(2, ExperimentStatus.DISCARD, 6.0, 4.0)
        panel.add_event(stuck.model_copy(update={"plateau": True}))
        await pilot.pause()
        counts = app.query_one("#experiment-counts").render_line(0).text
        assert counts.startswith("best 4  PLATEAU  held-out worse 1  kept 1")
        panel.add_event(_result(3, ExperimentStatus.KEEP, 3.0, 3.0))  # the plateau is over
        await pilot.pause()
        counts = app.query_one("#experiment-counts").render_line(0).text
        assert "PLATEAU" not in counts and "held-out worse 1" in counts
