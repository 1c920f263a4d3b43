"""``ExperimentsPanel``: the metric across a task's experiments, the best so far, and counts.

Hidden until the first ``experiment_result`` event; live and replay feed it the same events.
"""

from __future__ import annotations

import itertools

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from clive.session.events import Event, ExperimentResult, ExperimentStatus
from clive.ui._fit import FittedLine, Part

_KEPT = (ExperimentStatus.KEEP, ExperimentStatus.BASELINE)
_MOST_TICKS = 5  # on the experiment axis: room for their numbers in a narrow pane


class ExperimentsPanel(Vertical):
    """A plot of each measured experiment's metric (kept ones marked), the best so far as a
    line, and how many were kept, discarded, crashed and rejected."""

    DEFAULT_CSS = """
    ExperimentsPanel {
        display: none;
        height: 16;
        border: round $accent;
        border-title-style: bold;
    }
    ExperimentsPanel.-shown { display: block; }
    ExperimentsPanel > Static { height: 1; padding: 0 1; }
    ExperimentsPanel > PlotextPlot { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.results: list[ExperimentResult] = []

    def compose(self) -> ComposeResult:
        yield Static(id="experiment-counts")
        yield PlotextPlot()

    def on_mount(self) -> None:
        self.border_title = "experiments"

    def add_event(self, event: Event) -> None:
        """Take ``event`` if it is an experiment's result; others are ignored."""
        if isinstance(event, ExperimentResult):
            self.results.append(event)
            self.add_class("-shown")
            self._draw()

    def clear(self) -> None:
        self.results = []
        self.remove_class("-shown")

    def counts(self) -> dict[str, int]:
        """How many experiments ended each way (the baseline not counted)."""
        counts = {status.value: 0 for status in ExperimentStatus if status.value != "baseline"}
        for result in self.results:
            if result.status is not ExperimentStatus.BASELINE:
                counts[result.status.value] += 1
        return counts

    def _draw(self) -> None:
        best = self.results[-1].best_metric
        n = self.counts()
        kept, tried = n["keep"], sum(n.values())
        counts = (
            f"kept {kept} · discarded {n['discard']} · crashed {n['crash']} · "
            f"rejected {n['invalid']}",
            f"kept {kept} · disc {n['discard']} · crash {n['crash']} · rej {n['invalid']}",
            f"kept {kept} of {tried}",
            f"✓{kept}/{tried}",
            "",
        )
        best_text = f"best {best:g}" if best is not None else "no number yet"
        parts = {"best": Part((best_text,), style="bold")}
        last = self.results[-1]
        if last.plateau:  # no kept change in the task's plateau of experiments
            parts["plateau"] = Part(("PLATEAU",), style="bold yellow")
        regressed = sum(r.holdout_regressed for r in self.results)
        if regressed:
            parts["holdout"] = Part(
                (f"held-out worse {regressed}", f"held-out ✗{regressed}"), style="red"
            )
        parts["counts"] = Part(counts)
        # The best so far and the warnings always show; the counts shorten to fit the pane.
        shorten = ["counts"] * len(counts) + ["holdout"]
        line = FittedLine(parts, shorten=shorten, separator="  ")
        self.query_one("#experiment-counts", Static).update(line)

        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        measured = [r for r in self.results if r.metric is not None]
        if measured:
            plt.scatter(
                [r.experiment for r in measured],
                [r.metric for r in measured],
                marker="dot",
                label="measured",
            )
            kept = [
                r
                for r in measured
                if r.status in (ExperimentStatus.KEEP, ExperimentStatus.BASELINE)
            ]
            plt.scatter(
                [r.experiment for r in kept], [r.metric for r in kept], marker="+", label="kept"
            )
            steps = [r for r in self.results if r.best_metric is not None]
            plt.plot([r.experiment for r in steps], [r.best_metric for r in steps], label="best")
            numbers = [r.experiment for r in measured]
            ticks = whole_ticks(min(numbers), max(numbers))
            plt.xticks(ticks, [str(tick) for tick in ticks])  # experiments have no halves
        plt.xlabel("experiment")
        plot.refresh()


def whole_ticks(low: int, high: int, most: int = _MOST_TICKS) -> list[int]:
    """Whole numbers from ``low`` to ``high``, at most ``most``, a round step apart."""
    step, factors = 1, itertools.cycle((2, 2.5, 2))  # 1, 2, 5, 10, 20, 50...
    while (high - low) // step >= most:
        step = round(step * next(factors))
    first = -(-low // step) * step  # the first multiple of the step from low
    return list(range(first, high + 1, step))
