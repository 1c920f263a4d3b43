"""``FleetApp``: a run of many workers (``clive run task.md --workers N``) at a glance.

Every worker with its place, its state (working, measuring experiment N, lost, how it ended),
its experiments against the task's limit, what it kept and its last experiment; the combined
plot of every worker's measured experiments, in the order of the run's table, with the best so
far as a line; and the best. It reads the run's directory (``clive.experiments.fleet_run``)
twice a second, so it needs no connection to the run: the same app watches a run started here,
on a Ray cluster, or from a browser (``clive web RUN``).

Enter (or the worker's number) opens the selected worker (``opened``: its session, for the
caller to watch live or replay), ``d`` detaches (the run goes on), ``q`` stops the run after a
confirmation (then leaves once it has ended).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static
from textual_plotext import PlotextPlot

from clive.experiments.fleet_run import RunView, read_run
from clive.session.reader import process_alive
from clive.ui._dialogs import ConfirmScreen
from clive.ui.experiments_panel import whole_ticks

REFRESH = 0.5  # seconds between two readings of the run's directory
COLUMNS = ("worker", "where", "state", "experiments", "kept", "last experiment")


class FleetApp(App[None]):
    """The run in ``directory``; ``detachable``: ``d`` leaves it running (a view of a run
    that goes on without it)."""

    TITLE = "clive: a fleet"
    CSS = """
    #fleet-head { height: auto; padding: 0 1; }
    #fleet-workers { height: auto; max-height: 50%; }
    #fleet-plot-box { height: 1fr; min-height: 8; border: round $accent; }
    #fleet-plot-box > PlotextPlot { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        # Enter is the table's (its RowSelected, in order after the keys that moved it).
        Binding("enter", "open", "Open the worker"),
        *(Binding(str(n), f"open({n})", show=False) for n in range(1, 10)),
        Binding("d", "detach", "Detach"),
        Binding("q", "quit_run", "Stop the run"),
    ]

    def __init__(
        self, directory: Path, *, detachable: bool = False, in_browser: bool = False
    ) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.detachable = detachable
        self.in_browser = in_browser  # served by clive web: a worker opens in a tab
        self.run_view: RunView = read_run(self.directory)
        self.opened: Path | None = None  # the session of the worker asked for
        self.detached = False
        self.stopping = False
        self._detach_asked = False  # a signal asked to leave the run going
        self._plotted: list | None = None  # the results the plot shows

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-head")
        table = DataTable(id="fleet-workers", cursor_type="row", zebra_stripes=True)
        for column in COLUMNS:
            table.add_column(column, key=column)
        yield table
        with Vertical(id="fleet-plot-box"):
            yield PlotextPlot()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#fleet-plot-box").border_title = "every worker's experiments"
        self.show(self.run_view)
        self.set_interval(REFRESH, self.reread)

    def reread(self) -> None:
        if self._detach_asked:
            self.detached = True
            self.exit()
            return
        self.show(read_run(self.directory))

    def detach_soon(self) -> None:
        """Leave the run going, at the next reading (safe from a signal handler)."""
        self._detach_asked = True

    def show(self, run: RunView) -> None:
        """Draw ``run``: the head line, the workers' table (the cursor stays), the plot."""
        self.run_view = run
        self.query_one("#fleet-head", Static).update(self._head(run))
        table = self.query_one(DataTable)
        for worker in run.workers:
            last = worker.last
            said = "-"
            if last is not None:
                number = "no number" if last.metric is None else f"{last.metric:g}"
                said = f"{last.description}: {last.status} {number}"
            limit = f"/{run.limit}" if run.limit else ""
            again = f" (start {worker.attempt})" if worker.attempt > 1 else ""
            cells = (
                f"w{worker.number}",
                _where(worker) + again,
                worker.state or "-",
                f"{worker.experiments}{limit}",
                str(worker.kept),
                said,
            )
            key = str(worker.number)
            if key in table.rows:  # in place: the cursor stays where the person put it
                for column, value in zip(COLUMNS, cells, strict=True):
                    if table.get_cell(key, column) != value:
                        table.update_cell(key, column, value, update_width=True)
            else:
                table.add_row(*cells, key=key)
        if run.results != self._plotted:  # redrawn only when the table grew
            self._plot(run)
            self._plotted = run.results

    def _head(self, run: RunView) -> str:
        if run.ended:
            state = "ended"
        elif not run.running:
            state = "gone (its process ended without finishing)"
        else:
            state = "stopping" if self.stopping else "running"
        where = f" on Ray ({run.ray})" if run.ray else ""
        best = run.best()
        shown = "no number yet"
        if best is not None:
            shown = f"best {best.metric:g} (worker {best.worker}: {best.description})"
        counted = sum(1 for r in run.results if r.status != "baseline")
        return (
            f"[b]{run.task}[/b] · {len(run.workers)} workers{where} · {state} · "
            f"{counted} experiments · [b]{shown}[/b]\n{run.directory}"
        )

    def _plot(self, run: RunView) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        # The best so far as steps: it holds until a result beats it.
        xs: list[float] = []
        ys: list[float] = []
        for i, best in enumerate(run.best_line(), 1):
            if best is None:
                continue
            if ys and ys[-1] != best:
                xs.append(i)
                ys.append(ys[-1])
            xs.append(i)
            ys.append(best)
        if xs:
            plt.plot(xs, ys, label="best", color="gray")
        measured = [i for i, r in enumerate(run.results, 1) if r.metric is not None]
        for worker in run.workers:
            points = [
                (i, r.metric)
                for i, r in enumerate(run.results, 1)
                if r.worker == worker.number and r.metric is not None
            ]
            if points:  # each worker's points drawn with its number
                marker = str(worker.number) if worker.number < 10 else "dot"
                plt.scatter(
                    [i for i, _ in points], [m for _, m in points], marker=marker,
                    label=f"w{worker.number}",
                )  # fmt: skip
        if measured:
            ticks = whole_ticks(min(measured), max(measured))
            plt.xticks(ticks, [str(tick) for tick in ticks])
        plt.xlabel("result, in the run's order")
        plot.refresh()

    # -- actions ------------------------------------------------------------------------------

    def selected(self) -> int | None:
        """The worker the cursor is on."""
        table = self.query_one(DataTable)
        workers = self.run_view.workers
        if not workers or table.cursor_row < 0:
            return None
        return workers[min(table.cursor_row, len(workers) - 1)].number

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open(int(event.row_key.value or 0))

    def action_open(self, number: int | None = None) -> None:
        """Open worker ``number`` (the selected one by default)."""
        number = number if number is not None else self.selected()
        worker = next((w for w in self.run_view.workers if w.number == number), None)
        if worker is None or worker.session is None:
            self.notify("that worker has no session yet", severity="warning")
            return
        if self.in_browser:  # a view served to a browser ends with its app: a tab instead
            self.open_url(f"/worker/{worker.number}", new_tab=True)
            self.notify(f"worker {worker.number} opens in a tab of its own")
            return
        self.opened = worker.session
        self.exit()

    def action_detach(self) -> None:
        if not self.detachable:
            self.exit()
            return
        self.detached = True
        self.exit()

    def action_quit_run(self) -> None:
        run = self.run_view
        if not run.running:
            self.exit()
            return
        if self.stopping:
            return

        if not run.pid or process_alive(run.pid, run.host) is not True:
            # Its process is not one this machine can see (another host, or none said).
            self.notify(
                f"the run's process is not on this machine ({run.host or 'unknown'}): "
                "stop it there",
                severity="warning",
            )
            return

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            try:
                os.kill(run.pid or 0, signal.SIGTERM)
            except (ProcessLookupError, PermissionError) as error:
                self.notify(f"cannot stop the run: {error}", severity="error")
                return
            self.stopping = True
            self.show(run)

        self.push_screen(
            ConfirmScreen(
                f"Stop the run? Its {len(run.workers)} workers end their sessions (q again "
                "leaves once it has ended)."
            ),
            confirmed,
        )


def _where(worker) -> str:
    """``local``, or a Ray node's address and the start of its id (nodes may share a host)."""
    if worker.node in ("", "local"):
        return worker.node or "-"
    return f"{worker.address} ({worker.node[:8]})"
