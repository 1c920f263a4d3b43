"""Whatever a program prints, the reader keeps reading and the agent keeps seeing."""

from __future__ import annotations

import codecs
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from clive.terminal import Terminal
from clive.terminal._escapes import split_unfinished_escape
from clive.terminal.emulator import Emulator
from clive.terminal.transcript import Transcript

_NASTY = st.sampled_from(
    [b"\x1b", b"\x1b[", b"\x1b]", b"\x1bP", b"\x1b[?", b"\x1b[>4;2m", b"\x07", b"\x9b", b"\xff",
     b"\xe6\x97", b"\x1b[" + b"9" * 30 + b"m", b"\x1b[" + b";" * 300 + b"H", b"\r", b"\n", b"\b",
     b"\x1b(0", b"\x0e", b"\x1b[38:2::1:2:3m", b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[6n"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.one_of(st.binary(max_size=64), _NASTY), max_size=60),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=30),
)
def test_reader_path_never_raises_on_any_bytes(data, cuts):
    """The same steps the Terminal's reader takes, on arbitrary bytes cut at arbitrary places."""
    stream = b"".join(data)
    chunks, position = [], 0
    for cut in cuts:
        chunks.append(stream[position : position + cut])
        position += cut
    chunks.append(stream[position:])
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    transcript = Transcript()
    emulator = Emulator(20, 5, respond=lambda _answer: None)
    held = ""
    try:
        for chunk in chunks:
            text, held = split_unfinished_escape(held + decoder.decode(chunk))
            transcript.append(text)
            transcript.append_plain_ascii(
                chunk.decode("ascii", "replace").encode("ascii", "replace")
            )
            emulator.feed(chunk.decode("utf-8", "replace"))
        emulator.lines()
        emulator.cells()
        transcript.read()
    finally:
        transcript.close()


def test_random_bytes_in_a_real_terminal_leave_it_usable(tmp_path):
    (tmp_path / "noise.bin").write_bytes(os.urandom(200_000))
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        # Random bytes may hold terminal queries, whose answers (as in any terminal) wait in
        # the input for whoever reads next: `read` takes them. They may also shift into the
        # line-drawing set or switch modes: a full reset (ESC c, what `reset` sends) undoes it.
        term.run("cat noise.bin; read -rs -t 0.5 -d '' answers; printf '\\033c'", timeout=60)
        result = term.run("echo alive")
        assert result.output == "alive\n"
        assert "alive" in term.snapshot().text()


def test_a_one_megabyte_line_arrives_whole(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        result = term.run("python3 -c \"print('x' * 1_000_000)\"", timeout=120)
        assert result.output == "x" * 1_000_000 + "\n"
        assert term.run("echo after").output == "after\n"


def test_unterminated_escape_sequences_do_not_wedge_the_reader(tmp_path):
    with Terminal(cols=80, rows=24, cwd=tmp_path, user_rc=False) as term:
        # An unfinished CSI is ended by the next character; an unfinished OSC runs until a BEL,
        # as in xterm and tmux: the newline printed after it closes nothing, the BEL does.
        term.run("printf '\\033['; printf '\\033]0;a title without end'; printf '\\a\\n'")
        assert term.run("echo ok").output == "ok\n"
        assert term.snapshot().state.value == "prompt"
