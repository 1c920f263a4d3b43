"""The fleet's turns at measuring and its lost experiments (``clive.experiments.fleet``): a
worker measures alone on its machine, a worker lost while measuring has that experiment
recorded as lost and its turn ends, and a worker told to stop stops waiting."""

from __future__ import annotations

import pytest

from clive.experiments.fleet import Fleet, MeasuringStopped
from clive.experiments.results import read_results
from clive.session.events import ExperimentStatus


def _fleet(tmp_path, serial: bool = True) -> Fleet:
    return Fleet(tmp_path, lower_is_better=True, serial=serial)


def test_one_worker_measures_at_a_time_on_a_machine(tmp_path):
    fleet = _fleet(tmp_path)
    assert fleet.take_turn(1, "node-a", timeout=0)
    assert fleet.take_turn(1, "node-a", timeout=0)  # its own turn still
    assert not fleet.take_turn(2, "node-a", timeout=0)
    assert fleet.take_turn(3, "node-b", timeout=0)  # another machine measures at once
    fleet.end_turn(1, started=0.0, where="node-a")
    assert fleet.take_turn(2, "node-a", timeout=0)
    assert (tmp_path / "measuring.tsv").read_text().startswith("1\t0.000000\t")


def test_with_devices_of_their_own_all_measure_at_once(tmp_path):
    fleet = _fleet(tmp_path, serial=False)
    assert fleet.take_turn(1, timeout=0) and fleet.take_turn(2, timeout=0)


def test_a_worker_lost_while_measuring_has_that_experiment_recorded_as_lost(tmp_path):
    fleet = _fleet(tmp_path)
    assert fleet.take_turn(2, "node-b", timeout=0)
    fleet.measuring_now(2, 3, "bigger batch", "more throughput")
    result = fleet.lost(2, "its node stopped")
    assert result is not None
    assert (result.experiment, result.status) == (3, ExperimentStatus.LOST)
    assert result.metric is None and "not a failure of the change" in result.reason
    (row,) = read_results(tmp_path / "results.tsv")
    assert (row["worker"], row["status"], row["description"], row["hypothesis"]) == (
        "2", "lost", "bigger batch", "more throughput",
    )  # fmt: skip
    assert fleet.take_turn(1, "node-b", timeout=0)  # its turn ended with it
    assert "worker 2, experiment 3: bigger batch" in fleet.digest(1)
    # Lost again with nothing in hand: nothing more recorded.
    assert fleet.lost(2, "gone") is None
    assert len(read_results(tmp_path / "results.tsv")) == 1


def test_a_worker_waiting_for_its_turn_stops_when_told(tmp_path):
    fleet = _fleet(tmp_path)
    assert fleet.take_turn(1, timeout=0)
    asked = []

    def stop() -> bool:
        asked.append(True)
        return len(asked) >= 2

    with pytest.raises(MeasuringStopped), fleet.member(2).measuring(1, "x", stop=stop):
        pytest.fail("measured while another worker measures")
    assert len(asked) == 2


def test_for_a_timing_the_other_workers_shells_stop_while_one_measures(tmp_path):
    fleet = Fleet(tmp_path, lower_is_better=True, quiet=True)
    seen: list[tuple[int, bool]] = []
    for worker, where in ((1, "node-a"), (2, "node-a"), (3, "node-a"), (4, "node-b")):
        fleet.member(worker, where=where).quiet_with(
            lambda frozen, worker=worker: seen.append((worker, frozen))
        )
    with fleet.member(1, where="node-a").measuring(1, "x"):
        # Workers 2 and 3 share worker 1's machine: stopped. Worker 4's goes on.
        assert sorted(seen) == [(2, True), (3, True)]
    assert sorted(seen[2:]) == [(2, False), (3, False)]


def test_without_a_timing_or_with_devices_nobody_is_stopped(tmp_path):
    for options in ({"quiet": False}, {"quiet": True, "serial": False}):
        fleet = Fleet(tmp_path, lower_is_better=True, **options)
        seen = []
        fleet.member(2).quiet_with(seen.append)
        with fleet.member(1).measuring(1, "x"):
            pass
        assert seen == [], options


def test_a_shell_that_fails_to_stop_does_not_stop_the_measurement(tmp_path):
    fleet = Fleet(tmp_path, lower_is_better=True, quiet=True)

    def broken(frozen: bool) -> None:
        raise OSError("that shell has ended")

    fleet.member(2).quiet_with(broken)
    with fleet.member(1).measuring(1, "x"):
        pass
    assert fleet.take_turn(2, timeout=0)
