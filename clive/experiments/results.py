"""``results.tsv``: one row per experiment, tab-separated, as autoresearch keeps it, with the
harness's own columns after autoresearch's five.

    commit	metric	status	seconds	description	hypothesis	values	margin	holdout	flags
    1f2e3d4	0.021311	baseline	0.9	baseline		0.0213,0.0214,0.0211	0.0006
    a1b2c3d	0.014419	keep	0.3	learning rate 0.2	it was too low	0.014419	0.0006

``commit`` is the short hash, ``metric`` is empty when nothing was measured (a crash, an
invalid experiment), ``seconds`` is the wall time of the metric command's runs. ``values`` is
every measurement (the metric is their median), ``margin`` the noise margin the change had to
beat the best by (the decision's statistic), ``holdout`` the held-out metric where it was
measured, ``flags`` what else holds (``remeasured=N``, ``plateau``, ``holdout-regressed``).
Tabs and line breaks in a text become spaces, so that a row is always one line.
"""

from __future__ import annotations

from pathlib import Path

from clive.experiments.git import short
from clive.session.events import ExperimentResult

COLUMNS = (
    "commit", "metric", "status", "seconds", "description",
    "hypothesis", "values", "margin", "holdout", "flags",
)  # fmt: skip


def append_result(path: Path, result: ExperimentResult, worker: int | None = None) -> None:
    """Add ``result`` as a row of the table at ``path``, writing the header first if new;
    with ``worker``, a fleet's table: the worker's number in a first column."""
    flags = [f"remeasured={result.remeasured}"] if result.remeasured else []
    flags += ["plateau"] if result.plateau else []
    flags += ["holdout-regressed"] if result.holdout_regressed else []
    row = (
        short(result.commit),
        _number(result.metric),
        result.status.value,
        f"{result.seconds:.1f}",
        " ".join(result.description.split()),
        " ".join(result.hypothesis.split()),
        ",".join(map(_number, result.values)),
        _number(result.margin),
        _number(result.holdout),
        ",".join(flags),
    )
    header = COLUMNS
    if worker is not None:
        header, row = ("worker", *COLUMNS), (str(worker), *row)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", encoding="utf-8") as table:
        if new:
            table.write("\t".join(header) + "\n")
        table.write("\t".join(row) + "\n")


def _number(value: float | None) -> str:
    # Ten significant digits: the number as the harness read it, whatever its scale.
    return "" if value is None else f"{value:.10g}"


def read_results(path: Path) -> list[dict[str, str]]:
    """The rows of the table at ``path`` as dicts keyed by column (no rows if it is absent)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line]
