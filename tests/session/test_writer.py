"""The session writer and reader: written as it happens, compact, and readable back."""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples
from polling import wait_until

from clive.session import Session, SessionInfo, SessionNotFound, SessionWriter, find_session
from clive.session.asciicast import iter_events, read_header
from clive.session.events import Note, Outcome, SessionEnded, Totals
from clive.session.redact import REDACTED, Redactor, apply_spans
from clive.session.replay import ScreenIndex
from clive.terminal.emulator import Emulator


def _info(**extra) -> SessionInfo:
    fields = dict(
        id="test",
        task="test task",
        model="script:x",
        cwd="/",
        cols=40,
        rows=6,
        started_at="2026-11-23T10:00:00+00:00",
        scripted=True,
    )
    return SessionInfo(**{**fields, **extra})


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(tmp_path):
    clock = _Clock()
    writer = SessionWriter(
        tmp_path / "s",
        _info(),
        clock=clock,
        background_flush=False,
        redactor=Redactor(from_environment=False),
    )
    yield writer, clock
    writer.close()


def _cast(writer) -> list[tuple[float, str, str]]:
    return [(e.time, e.code, e.data) for e in iter_events(writer.directory / "terminal.cast")]


def test_an_event_is_on_disk_before_append_returns(clocked):
    writer, clock = clocked
    clock.now = 2.5
    writer.append(Note(step=1, text="first"))
    lines = (writer.directory / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[-1]) == {
        "t": 2.5,
        "scripted": True,
        "type": "note",
        "step": 1,
        "text": "first",
    }


def test_session_json_says_running_until_the_end(clocked):
    writer, clock = clocked
    assert Session(writer.directory).info.outcome is Outcome.RUNNING  # this process is alive
    clock.now = 9.0
    writer.close(SessionEnded(outcome=Outcome.FINISHED, summary="ok", totals=Totals(steps=2)))
    info = SessionInfo.read(writer.directory)
    assert info.outcome is Outcome.FINISHED and info.summary == "ok" and info.totals.steps == 2
    assert info.ended_at is not None


def test_output_bursts_become_few_events_and_nothing_is_lost(clocked):
    writer, clock = clocked
    for i in range(100):
        writer.terminal_output(f"line {i}\r\n".encode(), i * 0.001)  # 100 chunks in 0.1 s
    clock.now = 5.0
    writer.terminal_input(b"ls\r", 5.0)
    cast = _cast(writer)
    outputs = [data for _, code, data in cast if code == "o"]
    assert len(outputs) <= 3
    assert "".join(outputs) == "".join(f"line {i}\r\n" for i in range(100))
    assert cast[-1] == (5.0, "i", "ls\r"), "output before input stays before it"


def test_a_character_cut_between_chunks_is_kept_whole(clocked):
    writer, clock = clocked
    data = "é€😀".encode()
    for i, byte in enumerate(data):
        writer.terminal_output(bytes([byte]), i * 0.5)
    clock.now = 9
    writer.close()
    assert "".join(d for _, c, d in _cast(writer) if c == "o") == "é€😀"


def test_a_progress_bar_costs_one_redraw_a_second_and_each_second_is_exact(clocked):
    writer, clock = clocked
    truth = Emulator(40, 6)
    true_screens = {}
    for i in range(600):  # a minute at 10 updates a second
        chunk = f"\r{i:4d}/600 [{'#' * (i // 30):<20}]"
        if i % 100 == 99:
            chunk += f"\r\nepoch {i // 100} done\r\n"
        writer.terminal_output(chunk.encode(), i * 0.1)
        truth.feed(chunk)
        true_screens[round(i * 0.1, 1)] = truth.lines()
    clock.now = 60.0
    writer.close()
    outputs = [(t, d) for t, c, d in _cast(writer) if c == "o"]
    assert len(outputs) <= 65, "about one event a second"
    replay = Emulator(40, 6)
    for t, data in outputs:
        replay.feed(data)
        # Each event leaves the screen the terminal showed at that moment.
        assert replay.lines() == true_screens[round(t, 1)], t
    assert replay.lines() == truth.lines()


def _screens_by_time(chunks: list[tuple[float, str]], cols: int = 40, rows: int = 6):
    """The terminal's screen after the last chunk of each time."""
    truth = Emulator(cols, rows)
    screens = {}
    for t, chunk in chunks:
        truth.feed(chunk)
        screens[round(t, 6)] = truth.lines()
    return screens


def test_each_event_shows_the_screen_of_its_moment_when_redraws_end_in_a_word(clocked):
    # The demo's training bar: every redraw ends in the loss. Holding a redraw's last word
    # back into the next event made replay show step 19's loss at step 27.
    writer, clock = clocked
    chunks = []
    for i in range(300):
        chunk = f"\rstep {i:3d} loss {2.5 / (1 + i / 30):.4f}"
        if i % 100 == 99:
            chunk += "\r\n"
        chunks.append((i * 0.1, chunk))
        writer.terminal_output(chunk.encode(), i * 0.1)
    clock.now = 30.0
    writer.close()
    screens = _screens_by_time(chunks)
    index = ScreenIndex.open(writer.directory / "terminal.cast")
    outputs = [(t, d) for t, c, d in _cast(writer) if c == "o"]
    assert len(outputs) <= 35, "about one event a second"
    for t, _ in outputs:
        assert index.screen_at(t).lines() == screens[t], t
    # Between events the screen is one the terminal showed in the second before: delayed by
    # the gathering at most, never ahead of the terminal nor left half drawn.
    blank = Emulator(40, 6).lines()
    for t, _ in chunks:
        before = [screens[round(s, 6)] for s, _ in chunks if s < t - 1.05] or [blank]
        recent = [before[-1]] + [screens[round(s, 6)] for s, _ in chunks if t - 1.05 <= s <= t]
        assert index.screen_at(t).lines() in recent, t


_PIECES = [
    "loss 2.3100",
    "\r",
    "\r\n",
    "step 27 ",
    "\x1b[32m",
    "\x1b[0m",
    "key sk",
    "-ant-api03-" + "Ab3_x-" * 5,
    " done",
    "é",
    "\x1b[2K",
    "\x1b[3",  # a colour cut in two
    "1m",
    "\x1b]0;title\x07",
]


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=4), st.integers(0, 15)),
        min_size=1,
        max_size=40,
    )
)
# A chunk of the moment an event was written, then redraws: it must not wait for them.
@example([(["loss 2.3100"], 0), (["loss 2.3100"], 10), (["loss 2.3100"], 0), (["\r"] * 3, 1)])
def test_every_event_is_the_screen_of_its_time_and_nothing_is_lost(tmp_path_factory, chunks):
    writer = SessionWriter(
        tmp_path_factory.mktemp("s") / "s",
        _info(),
        clock=lambda: 0.0,
        background_flush=False,
        redactor=Redactor(from_environment=False),
    )
    timed, t = [], 0.0
    for pieces, gap in chunks:
        t += gap / 10  # 0 to 1.5 s apart
        timed.append((t, "".join(pieces)))
        writer.terminal_output(timed[-1][1].encode(), t)
    writer.close()
    # The terminal's screens, redacted: a secret is written whole, in the event where it ends.
    redactor = Redactor(from_environment=False)
    whole = "".join(text for _, text in timed)
    spans = redactor.spans(whole)
    screens, end = {}, 0
    for t, text in timed:
        end += len(text)
        if not any(start < end < stop for start, stop, _ in spans):
            screens.update(_screens_by_time([(t, apply_spans(whole, spans, 0, end))]))
    replay = Emulator(40, 6)
    outputs = [(t, d) for t, c, d in _cast(writer) if c == "o"]
    for i, (t, data) in enumerate(outputs):
        replay.feed(data)
        if i + 1 == len(outputs) or outputs[i + 1][0] > t:  # the screen at t, all of t fed
            assert replay.lines() == screens[t], t
    assert outputs[-1][0] == round(timed[-1][0], 6)
    if "\r" not in whole.replace("\r\n", ""):  # nothing collapsed
        assert "".join(d for _, d in outputs) == redactor.redact(whole)


def test_redraws_are_not_dropped_when_the_cursor_moves_between_rows(clocked):
    writer, clock = clocked
    text = "\rAAAAAAAA\x1b[A\rBB\rCC\r\n"  # the later redraws are on another row
    writer.terminal_output(text.encode(), 0.0)
    clock.now = 2
    writer.close()
    assert "".join(d for _, c, d in _cast(writer) if c == "o") == text


def test_a_key_cut_between_two_chunks_never_reaches_the_cast(tmp_path):
    key = "sk-ant-api03-" + "Ab3_x-" * 15
    text = f"$ export KEY={key}\r\n$ "
    for cut in range(1, len(text)):
        writer = SessionWriter(
            tmp_path / str(cut),
            _info(),
            clock=lambda: 9.0,
            background_flush=False,
            redactor=Redactor(from_environment=False),
        )
        writer.terminal_output(text[:cut].encode(), 1.0)
        writer.terminal_output(text[cut:].encode(), 2.5)  # a window later
        writer.close()
        output = "".join(d for _, c, d in _cast(writer) if c == "o")
        assert output == f"$ export KEY={REDACTED}\r\n$ ", cut


def test_what_may_begin_a_secret_waits_through_a_pause_and_the_rest_keeps_its_time(tmp_path):
    clock = _Clock()
    writer = SessionWriter(
        tmp_path / "s",
        _info(),
        clock=clock,
        redactor=Redactor(["hunter2!pw"], from_environment=False),
    )
    writer.terminal_output(b"password: hunt", 1.0)
    clock.now = 3.0  # silence: the flusher writes what cannot begin the secret
    wait_until(lambda: ("o", "password: ") in [(c, d) for _, c, d in _cast(writer)], "the pause")
    writer.terminal_output(b"er2!pw\r\n", 5.0)
    clock.now = 6.0
    writer.close()
    outputs = [(t, d) for t, c, d in _cast(writer) if c == "o"]
    assert outputs == [(1.0, "password: "), (5.0, f"{REDACTED}\r\n")]


def test_secret_input_is_not_recorded(clocked):
    writer, _ = clocked
    writer.terminal_input(b"hunter2\r", 0.1, secret=True)
    writer.close()
    files = "".join(p.read_text() for p in writer.directory.iterdir() if p.is_file())
    assert "hunter2" not in files and "[secret input]" in files


def test_resize_and_markers_go_to_the_cast(clocked):
    writer, clock = clocked
    clock.now = 1.0
    writer.marker("step 1")
    writer.resize(100, 30)
    assert _cast(writer) == [(1.0, "m", "step 1"), (1.0, "r", "100x30")]
    header = read_header(writer.directory / "terminal.cast")
    assert (header.width, header.height) == (40, 6)


def test_asciinema_cat_reproduces_the_output(clocked):
    writer, _ = clocked
    text = "\x1b[1;32mbuild ok\x1b[0m\r\nünïcödé ✓ 中文\r\n"
    writer.terminal_output(text.encode(), 0.2)
    writer.terminal_input(b"q", 0.3)
    writer.marker("step 2")
    writer.close()
    done = subprocess.run(
        ["asciinema", "cat", str(writer.directory / "terminal.cast")],
        capture_output=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.stdout.decode() == text


def test_a_torn_last_line_is_reported_and_the_session_shows_as_interrupted(tmp_path):
    writer = SessionWriter(tmp_path / "s", _info(), background_flush=False)
    writer.append(Note(step=1, text="kept"))
    writer.close()  # no end event: as if killed
    with open(writer.directory / "events.jsonl", "ab") as events:
        events.write(b'{"t": 3.0, "type": "no')
    info = json.loads((writer.directory / "session.json").read_text())
    info["pid"] = 2**22 + 1  # a process that does not exist
    (writer.directory / "session.json").write_text(json.dumps(info))
    session = Session(writer.directory)
    log = session.log()
    assert [e.type for e in log.events] == ["note"]
    assert log.torn_tail == '{"t": 3.0, "type": "no'
    assert session.info.outcome is Outcome.INTERRUPTED


def test_find_session_by_name_prefix_part_and_last(tmp_path):
    first = SessionWriter.create(tmp_path, _info(task="train the model"), background_flush=False)
    second = SessionWriter.create(tmp_path, _info(task="run the tests"), background_flush=False)
    first.close()
    second.close()
    assert find_session(first.directory.name, tmp_path).directory == first.directory
    assert find_session("run-the-tests", tmp_path).directory == second.directory
    assert find_session(str(second.directory), tmp_path / "elsewhere").name == second.directory.name
    assert find_session("last", tmp_path).directory in (first.directory, second.directory)
    with pytest.raises(SessionNotFound, match="no session 'nothing'"):
        find_session("nothing", tmp_path)
    with pytest.raises(SessionNotFound, match="matches 2 sessions"):
        find_session("the", tmp_path)


def test_two_sessions_started_in_the_same_second_get_their_own_directories(tmp_path):
    a = SessionWriter.create(tmp_path, _info(), background_flush=False)
    b = SessionWriter.create(tmp_path, _info(), background_flush=False)
    assert a.directory != b.directory and b.directory.name.startswith(a.directory.name)
    a.close()
    b.close()


def test_a_secret_that_looks_like_json_redacts_strings_only(clocked):
    writer, clock = clocked
    writer.redactor.add_secret("1234")  # a PIN typed at a password prompt
    clock.now = 12.345678  # the time's digits hold the secret
    writer.append(Note(step=1234, text="the pin is 1234"))
    (line,) = (writer.directory / "events.jsonl").read_text().splitlines()
    event = json.loads(line)
    assert event["step"] == 1234 and event["t"] == 12.345678
    assert "1234" not in event["text"] and "[REDACTED]" in event["text"]


def test_a_resumed_session_is_not_ended_by_its_earlier_run(clocked):
    writer, _ = clocked
    writer.close(SessionEnded(outcome=Outcome.PAUSED, reason="model unavailable"))
    assert Session(writer.directory).info.outcome is Outcome.PAUSED
    again = SessionWriter.reopen(writer.directory, 5.0, background_flush=False)
    again.append(Note(step=2, text="going on"))
    # Running in this process: the earlier run's end does not count.
    assert Session(writer.directory).info.outcome is Outcome.RUNNING
    again.close(SessionEnded(outcome=Outcome.FINISHED, summary="done"))
    info = Session(writer.directory).info
    assert info.outcome is Outcome.FINISHED and info.summary == "done"
    times = [e.time for e in iter_events(writer.directory / "terminal.cast")]
    assert times == sorted(times) and times[-1] >= 5.0


ANTHROPIC_KEY = "sk-ant-api03-" + "Qx7_-p" * 12
GITHUB_TOKEN = "ghp_" + "Zr4k" * 9
PASSWORD = "hunter2pw"
# The keys first: the directory's name is made of the task's first words.
TASK_WITH_KEYS = f"{GITHUB_TOKEN} PASSWORD={PASSWORD} {ANTHROPIC_KEY}: deploy the db"


def test_keys_in_the_task_reach_neither_session_json_nor_the_directory_name(tmp_path):
    writer = SessionWriter.create(
        tmp_path,
        _info(task=TASK_WITH_KEYS),
        redactor=Redactor(from_environment=False),
        background_flush=False,
    )
    writer.close(SessionEnded(outcome=Outcome.FINISHED))
    name = writer.directory.name
    raw = (writer.directory / "session.json").read_bytes()
    for secret in (ANTHROPIC_KEY, GITHUB_TOKEN, PASSWORD):
        assert secret.encode() not in raw
    assert name.endswith("-redacted-password-redacted-redac")
    assert Session(writer.directory).info.task == (
        "[REDACTED] PASSWORD=[REDACTED] [REDACTED]: deploy the db"
    )
    assert PASSWORD not in read_header(writer.directory / "terminal.cast").title


def test_session_json_keeps_the_best_metric_and_commit_of_the_end(clocked):
    writer, _ = clocked
    writer.close(
        SessionEnded(outcome=Outcome.EXPERIMENT_LIMIT, best_metric=0.0125, best_commit="c0ffee1")
    )
    saved = json.loads((writer.directory / "session.json").read_text())
    assert saved["best_metric"] == 0.0125 and saved["best_commit"] == "c0ffee1"
    info = Session(writer.directory).info
    assert (info.best_metric, info.best_commit) == (0.0125, "c0ffee1")


def test_a_killed_writer_s_end_event_still_gives_the_best_metric(tmp_path):
    writer = SessionWriter(tmp_path / "s", _info(), background_flush=False)
    writer.append(SessionEnded(outcome=Outcome.FINISHED, best_metric=3.5, best_commit="abc"))
    writer.close()  # killed before session.json was rewritten: it still says running
    info = Session(writer.directory).info
    assert info.outcome is Outcome.FINISHED
    assert (info.best_metric, info.best_commit) == (3.5, "abc")


def test_a_reopened_session_json_names_the_model_and_settings_now_in_use(clocked):
    writer, _ = clocked
    writer.close(SessionEnded(outcome=Outcome.PAUSED))
    going_on = Session(writer.directory).info.model_copy(
        update={"model": "openai:other", "settings": {"max_output_tokens": 77}}
    )
    again = SessionWriter.reopen(writer.directory, 1.0, info=going_on, background_flush=False)
    saved = json.loads((writer.directory / "session.json").read_text())
    assert saved["model"] == "openai:other" and saved["settings"] == {"max_output_tokens": 77}
    assert saved["outcome"] == "running"
    again.close()
