"""Whatever a program prints, the reader keeps reading and the agent keeps seeing."""

from __future__ import annotations

import codecs
import itertools
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

from clive.terminal import ScreenState, Terminal, WaitReason
from clive.terminal._escapes import MAX_HELD_BACK, split_unfinished_escape
from clive.terminal.emulator import Emulator
from clive.terminal.terminal import _is_plain
from clive.terminal.transcript import Transcript

_NASTY = st.sampled_from(
    [b"\x1b", b"\x1b[", b"\x1b]", b"\x1bP", b"\x1b_", b"\x1b^", b"\x1bX", b"\x1b[?", b"\x1b[>",
     b"\x1b[>4;2m", b"\x1b[?4m", b"\x07", b"\x1b\\", b"\x18", b"\x1a", b"\x9b", b"\x9d", b"\xff",
     b"\xc0\xaf", b"\xed\xa0\x80", b"\xe6\x97", b"\xf0\x9f\x98", b"\x1b[" + b"9" * 30 + b"m",
     b"\x1b[" + b";" * 300 + b"H", b"\x1b[" + b"1;" * 2000 + b"m", b"\x1b[38:2::1:2:3m",
     b"\x1b[4:3m", b"\x1b]0;" + b"t" * 200, b"\x1b]8;;http://x\x1b\\", b"\x1bP" + b"q" * 300,
     b"\r", b"\n", b"\r\n" * 30, b"\b", b"\t", b"\x1b(0", b"\x0e", b"\x0f", b"\x1bc",
     b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[?47h", b"\x1b[6n", b"\x1b[c", b"\x1b[>c",
     b"\x1b[99999b", b"\x1b[9999S", b"\x1b[9999T", b"\x1b[4h", b"\x1b[2;3r", b"\x1b[?6h",
     "日本😀\u200d\ufe0f\u0301".encode(), b"progress 50%\r" * 5]
)  # fmt: skip


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


class _ReaderPath:
    """What ``Terminal._consume`` does with each chunk read from the PTY, minus the PTY."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.emulator = Emulator(20, 5, respond=self.answers.append)
        self.transcript = Transcript()
        self._screen_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._transcript_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held_back = ""

    def consume(self, data: bytes) -> None:
        plain = _is_plain(data)
        if not self._held_back and plain and not self._transcript_decoder.getstate()[0]:
            self.transcript.append_plain_ascii(data)
        else:
            decoded = self._transcript_decoder.decode(data)
            text, self._held_back = split_unfinished_escape(self._held_back + decoded)
            self.transcript.append(text)
        self.emulator.feed(self._screen_decoder.decode(data), plain=plain)


@settings(max_examples=examples(1000), deadline=None)
@given(
    data=st.lists(st.one_of(st.binary(max_size=64), _NASTY), max_size=60).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=30),
)
def test_reader_path_never_raises_on_any_bytes(data, cuts):
    """Random bytes, invalid UTF-8, unfinished and overlong sequences, cut anywhere."""
    reader = _ReaderPath()
    try:
        for chunk in _chunks(data, cuts):
            reader.consume(chunk)
        # ST ends any string left open, CAN any other sequence, and ESC c (what `reset`
        # sends) resets the screen. The BELs and the CAN are there for two known bugs (see
        # test_emulator.py): an OSC start that reaches pyte, which takes the next character
        # as the OSC's code and then waits for a BEL, and an ESC eaten by an unfinished
        # sequence, where a real terminal starts a new one.
        reader.consume(b"\x07\x07\x1b\\\x18\x1bcback to normal\r\n")
        assert "back to normal" in reader.emulator.lines()
        reader.emulator.cells()
        reader.transcript.read()
        reader.transcript.size()
    finally:
        reader.transcript.close()


def test_an_unfinished_string_is_held_back_at_most_max_held_back():
    reader = _ReaderPath()
    reader.consume(b"\x1b]0;")
    for _ in range(MAX_HELD_BACK // 1000 + 2):
        reader.consume(b"x" * 1000)
    reader.consume(b"\r\nvisible")
    try:
        assert reader.transcript.read().endswith("visible")
    finally:
        reader.transcript.close()


# -- a real PTY ------------------------------------------------------------------------------

# What a user would do after `cat`ing a binary, in any terminal: the noise may leave a string
# (DCS, OSC) open, which ST (ESC \) ends, or another sequence, which CAN ends; it may switch
# charsets and modes, which a full reset (ESC c, what `reset` sends) undoes; and it may ask the
# terminal questions whose answers wait in the input for whoever reads next. A cursor position
# query at a known place (5;7) is answered after all of them, and `read` takes every answer up
# to that one (however long the screen takes to catch up: no fixed wait).
_RECOVER = (
    "printf '\\033\\\\\\030\\033c\\033[5;7H\\033[6n';"
    " for _ in {1..100}; do read -rs -t 30 -d R answer || break; [[ $answer == *'[5;7' ]] && break;"
    " done"
)


def test_random_bytes_in_a_real_terminal_leave_it_usable(tmp_path):
    (tmp_path / "noise.bin").write_bytes(random.randbytes(200_000))
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        term.run(f"cat noise.bin; {_RECOVER}", timeout=120)
        result = term.run("echo alive")
        assert result.output == "alive\n"
        snapshot = term.snapshot()
        assert "alive" in snapshot.lines
        assert snapshot.state is ScreenState.PROMPT


def test_a_one_megabyte_line_arrives_whole(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        result = term.run("python3 -c \"print('x' * 1_000_000)\"", timeout=120)
        assert result.output == "x" * 1_000_000 + "\n"
        assert result.exit_code == 0
        assert term.run("echo after").output == "after\n"
        assert "after" in term.snapshot().lines


def test_unterminated_escape_sequences_do_not_wedge_the_reader(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        # No terminator is printed: as in xterm and tmux, an unfinished CSI ends at the next
        # escape sequence and an unfinished OSC takes in the text after it, up to the next
        # escape sequence. Here that is the shell's end-of-command marker, which ends it; the
        # echo's text went into the unfinished title, so the command shows no output. The
        # unfinished DCS and APC end the same way, as in xterm (tmux keeps a DCS open until
        # an ST and would show nothing more).
        result = term.run(
            "printf '\\033['; printf '\\033]0;a title without end'; echo swallowed;"
            " printf '\\033Pdcs'; printf '\\033_apc'",
            timeout=10,
        )
        assert not result.timed_out
        assert result.exit_code == 0
        assert "swallowed" not in result.output
        assert term.run("echo ok", timeout=10).output == "ok\n"
        # (What the screen shows: test_unfinished_csi_leaves_no_garbage_on_screen.)
        assert term.snapshot().state is ScreenState.PROMPT
        # Terminated, the same title is taken and the text after it is shown.
        assert term.run("printf '\\033]0;a title\\007'; echo shown").output == "shown\n"
        assert term.snapshot().title == "a title"


def test_query_split_across_two_reads_is_answered(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        # ESC[6 in one read and n in the next: answered at once, as a query in one read is,
        # not when something next draws the screen. (Echo is off before the query, as a
        # program asking it turns it off: else the answer may come before `read` and be echoed.)
        result = term.run(
            "stty -echo; printf '\\033[6'; sleep 0.3; printf 'n'; read -r -t 10 -d R answer;"
            ' stty echo; echo "got ${answer#*[}"',
            timeout=30,
        )
        assert re.fullmatch(r"got \d+;\d+\n", result.output)


@pytest.mark.parametrize("osc", ["7;file://[x/tmp", "133;D;²"])
def test_malformed_shell_marker_does_not_kill_the_reader(tmp_path, osc):
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        # urlparse raises on "[" in a host; int("²") raises though "²".isdigit().
        term.send_text(f"printf '\\033]{osc}\\007'; echo after\r")
        assert term.wait(prompt=True, timeout=30).reason is WaitReason.PROMPT
        assert term.run("echo ok", timeout=30).output == "ok\n"
        assert term.snapshot().cwd == str(tmp_path)


# Shell markers with junk in them. Not a prompt (133;A): a program that prints one fools any
# terminal's integration into seeing a prompt, which is no bug of the reader.
_JUNK_MARKERS = st.builds(
    lambda code, payload, end: b"\x1b]" + code + payload + end,
    st.sampled_from([b"133;", b"133;B", b"133;C", b"133;D", b"133;D;", b"7;", b"7;file://"]),
    st.one_of(st.binary(max_size=16), st.text(max_size=8).map(str.encode)),
    st.sampled_from([b"\x07", b"\x1b\\", b""]),
)
_JUNK = st.lists(st.one_of(st.binary(max_size=64), _NASTY, _JUNK_MARKERS), max_size=30).map(
    b"".join
)


class _BrokenListener:
    """An output listener that fails on every chunk holding a given byte."""

    def __init__(self, byte: int) -> None:
        self.byte = byte

    def __call__(self, data: bytes, _when: float) -> None:
        if self.byte in data:
            raise ValueError(f"a listener that cannot take {self.byte:#x}")


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None)
@given(junk=_JUNK.filter(lambda junk: b"133;A" not in junk), broken=st.integers(0, 255))
def test_any_output_leaves_the_reader_reading_and_the_next_prompt_seen(
    tmp_path_factory, junk, broken
):
    """Whatever a program prints, through markers and a failing listener, the next command
    runs and the terminal sees its prompt."""
    work = tmp_path_factory.mktemp("junk")
    (work / "junk.bin").write_bytes(junk)
    failures = []
    with Terminal(cols=80, rows=24, cwd=work, user_rc=False) as term:
        term.add_error_listener(failures.append)
        term.add_output_listener(_BrokenListener(broken))
        term.run(f"cat junk.bin; {_RECOVER}", timeout=120)
        result = term.run("echo ok", timeout=30)
        assert (result.output, result.exit_code) == ("ok\n", 0)
        assert term.snapshot().state is ScreenState.PROMPT
    # The listener's failure, told once however often it failed; nothing else failed.
    assert [type(failure.error) for failure in failures] in ([], [ValueError])


# -- known bugs ------------------------------------------------------------------------------


def test_unfinished_csi_leaves_no_garbage_on_screen(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        term.run("printf '\\033['", timeout=10)
        term.run("echo ok", timeout=10)
        # The shell's markers are removed before pyte sees them, which leaves "\x1b[\x1b[?2004h":
        # the screen shows "[?2004h" in front of the next prompt.
        assert not any("[?2004h" in line for line in term.snapshot().lines)


def test_a_transcript_that_fails_once_is_reported_and_the_terminal_goes_on(tmp_path, monkeypatch):
    failures = []
    append = Transcript.append
    failed = []

    append_plain = Transcript.append_plain_ascii

    def fails_once(self, text: str) -> None:
        if "BOOM" in text and not failed:
            failed.append(text)
            raise OSError("No space left on device")
        append(self, text)

    def plain_fails_once(self, data: bytes) -> None:
        # Plain output takes the fast path: whichever way BOOM comes, it fails once.
        if b"BOOM" in data and not failed:
            failed.append(data)
            raise OSError("No space left on device")
        append_plain(self, data)

    monkeypatch.setattr(Transcript, "append", fails_once)
    monkeypatch.setattr(Transcript, "append_plain_ascii", plain_fails_once)
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        term.add_error_listener(failures.append)
        term.run("echo BOOM", timeout=10)
        assert term.run("echo after", timeout=10).output == "after\n"
    assert failed and len(failures) == 1
    assert "No space left" in failures[0].message
