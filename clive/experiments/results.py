"""``results.tsv``: one row per experiment, tab-separated, as autoresearch keeps it.

    commit	metric	status	seconds	description
    1f2e3d4	0.021311	baseline	0.3	baseline
    a1b2c3d	0.014419	keep	0.3	learning rate 0.2

``commit`` is the short hash, ``metric`` is empty when nothing was measured (a crash, an
invalid experiment), ``seconds`` is the wall time of the metric command's runs. Tabs and line
breaks in a description become spaces, so that a row is always one line of five fields.
"""

from __future__ import annotations

from pathlib import Path

from clive.experiments.git import short
from clive.session.events import ExperimentResult

COLUMNS = ("commit", "metric", "status", "seconds", "description")


def append_result(path: Path, result: ExperimentResult) -> None:
    """Add ``result`` as a row of the table at ``path``, writing the header first if new."""
    # Ten significant digits: the number as the harness read it, whatever its scale.
    metric = "" if result.metric is None else f"{result.metric:.10g}"
    description = " ".join(result.description.split())
    row = (short(result.commit), metric, result.status.value, f"{result.seconds:.1f}", description)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", encoding="utf-8") as table:
        if new:
            table.write("\t".join(COLUMNS) + "\n")
        table.write("\t".join(row) + "\n")


def read_results(path: Path) -> list[dict[str, str]]:
    """The rows of the table at ``path`` as dicts keyed by column (no rows if it is absent)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line]
