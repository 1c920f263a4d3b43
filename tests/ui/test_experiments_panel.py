"""The experiments panel: hidden until the first result; the best so far and the counts."""

from __future__ import annotations

import pytest
from textual.app import App

from clive.session.events import ExperimentResult, ExperimentStatus, Note
from clive.ui.experiments_panel import ExperimentsPanel

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual's loop


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
        assert panel.counts() == {"keep": 1, "discard": 1, "crash": 1, "invalid": 1}
        counts = str(app.query_one("#experiment-counts").render())
        assert "best 0.014419" in counts and "kept 1" in counts and "rejected 1" in counts
        panel.clear()
        await pilot.pause()
        assert not panel.display
