"""Replay: the screen at any moment, through keyframes, equals playing the cast from the start."""

from __future__ import annotations

import random

import pytest

from clive.session.asciicast import CastWriter, iter_events
from clive.session.replay import INDEX_SUFFIX, ScreenIndex
from clive.terminal.emulator import Emulator


def _write_cast(path, events, cols=60, rows=10):
    with open(path, "wb") as file:
        writer = CastWriter(file)
        writer.header(cols, rows, timestamp=0, title="t", env={})
        for time, code, data in events:
            writer.event(time, code, data)


def _played_to(path, time, cols=60, rows=10) -> list[str]:
    emulator = Emulator(cols, rows)
    for event in iter_events(path):
        if event.time > time:
            break
        if event.code == "o":
            emulator.feed(event.data)
        elif event.code == "r":
            c, r = event.data.split("x")
            emulator.resize(int(c), int(r))
    return emulator.lines()


def _mixed_events(count: int, seed: int = 1):
    rng = random.Random(seed)
    events, t = [], 0.0
    for i in range(count):
        t += rng.choice([0.01, 0.1, 0.5])
        kind = rng.random()
        if kind < 0.6:
            data = "".join(
                f"\x1b[3{i % 8}mline {i}.{j}\x1b[0m\r\n" for j in range(rng.randint(1, 30))
            )
        elif kind < 0.75:
            data = "".join(f"\r{k:3d}% [{'#' * (k // 10):<10}]" for k in range(0, 101, 7))
        elif kind < 0.85:
            data = f"\x1b[?1049h\x1b[H\x1b[2J\x1b[5;10Hfull screen {i}\x1b[1;1H\x1b[7mtop\x1b[0m"
        elif kind < 0.95:
            data = "\x1b[?1049l" + "中文 wide 😀\r\n"
        else:
            events.append((t, "i", "q"))
            data = "\x1b[2;5r\x1b[5;1Hscrolled region\n\n\x1b[r"
        # Cut sequences anywhere, as output arrives in arbitrary pieces.
        cut = rng.randint(0, len(data))
        events.append((t, "o", data[:cut]))
        events.append((t + 0.001, "o", data[cut:]))
        if i == count // 2:
            events.append((t + 0.002, "r", "70x12"))
    return events


def test_screen_at_any_moment_equals_playing_from_the_start(tmp_path):
    cast = tmp_path / "terminal.cast"
    events = _mixed_events(400)
    _write_cast(cast, events)
    index = ScreenIndex.open(cast, every=2000)  # many keyframes, to exercise them
    assert len(index.keyframes) > 20
    rng = random.Random(7)
    for time in [0.0, events[-1][0] + 1, *(rng.uniform(0, events[-1][0]) for _ in range(40))]:
        assert index.screen_at(time).lines() == _played_to(cast, time), time


def test_the_index_is_saved_reused_and_extended_when_the_cast_grows(tmp_path):
    cast = tmp_path / "terminal.cast"
    events = _mixed_events(200)
    _write_cast(cast, events[:150])
    first = ScreenIndex.open(cast, every=2000)
    assert (tmp_path / ("terminal.cast" + INDEX_SUFFIX)).exists()
    again = ScreenIndex.open(cast, every=2000)
    assert again.keyframes == first.keyframes
    # The session went on: the cast grew; the index extends from its last keyframe.
    with open(cast, "ab") as file:
        writer = CastWriter(file)
        for time, code, data in events[150:]:
            writer.event(time, code, data)
    grown = ScreenIndex.open(cast, every=2000)
    assert grown.keyframes[: len(first.keyframes)] == first.keyframes
    assert len(grown.keyframes) > len(first.keyframes)
    end = events[-1][0] + 1
    assert grown.screen_at(end).lines() == _played_to(cast, end)


def test_a_corrupt_index_is_rebuilt(tmp_path):
    cast = tmp_path / "terminal.cast"
    _write_cast(cast, _mixed_events(50))
    (tmp_path / ("terminal.cast" + INDEX_SUFFIX)).write_text("not an index\n")
    index = ScreenIndex.open(cast, every=500)
    assert index.screen_at(1e9).lines() == _played_to(cast, 1e9)


@pytest.mark.parametrize("cut", [1, 7, 20])
def test_a_torn_last_line_is_ignored(tmp_path, cut):
    cast = tmp_path / "terminal.cast"
    _write_cast(cast, [(0.5, "o", "hello\r\n"), (1.0, "o", "world")])
    with open(cast, "ab") as file:
        file.write(b'[2.0, "o", "never finished"]'[:cut])
    index = ScreenIndex.open(cast)
    assert index.screen_at(5).lines()[:2] == ["hello", "world"]
