"""The plain-text transcript: what a reader of the output would want to see."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from clive.terminal.transcript import Mark, Transcript


def _text(*chunks: str) -> str:
    transcript = Transcript()
    for chunk in chunks:
        transcript.append(chunk)
    try:
        return transcript.read()
    finally:
        transcript.close()


def test_progress_bar_leaves_its_last_state_even_across_chunks():
    assert _text("\r10%", "\r50%", "\r100%\r\n", "next\r\n") == "100%\nnext\n"
    assert _text("downloading 10%\rdone", "\r\n") == "doneloading 10%\n"


def test_backspaces_overwrite():
    assert _text("abc\b\bX\r\n") == "aXc\n"


def test_escape_sequences_are_stripped():
    assert _text("\x1b[1;31mred\x1b[0m \x1b]0;title\x07\x1b[2Kplain\x1bP1$r\x1b\\\r\n") == (
        "red plain\n"
    )


def test_alternate_screen_text_is_left_out():
    assert _text("before\r\n\x1b[?1049hvim draws here\x1b[H", "more\x1b[?1049lafter\r\n") == (
        "before\nafter\n"
    )


def test_line_without_newline_is_readable():
    assert _text("prompt$ ") == "prompt$ "


def test_read_between_marks():
    transcript = Transcript()
    transcript.append("one\r\n")
    start = transcript.mark()
    transcript.append("two\r\nthr")
    middle = transcript.mark()
    transcript.append("ee\r\nfour\r\n")
    assert transcript.read(start, middle) == "two\nthr"
    assert transcript.read(start) == "two\nthree\nfour\n"
    assert transcript.read(middle) == "ee\nfour\n"
    assert transcript.size(start, middle) == len("two\nthr")
    transcript.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab c\r\n\t", max_size=50), max_size=20))
def test_plain_ascii_fast_path_matches_the_general_path(chunks):
    fast, general = Transcript(), Transcript()
    for chunk in chunks:
        fast.append_plain_ascii(chunk.encode())
        general.append(chunk)
    assert fast.read() == general.read()
    assert fast.mark() == general.mark()
    fast.close()
    general.close()


def test_endless_line_is_committed_in_part_and_stays_readable():
    transcript = Transcript()
    for _ in range(300):
        transcript.append("x" * 10_000)
    assert len(transcript.mark().pending) < 2 << 20
    assert transcript.read() == "x" * 3_000_000
    transcript.close()


def test_temporary_transcript_is_deleted_on_close_and_a_named_one_kept(tmp_path):
    temporary = Transcript()
    temporary.append("bye\n")
    path = temporary.path
    temporary.close()
    assert not path.exists()
    named = Transcript(tmp_path / "session" / "transcript.txt")
    named.append("kept")
    named.close()
    assert Path(tmp_path / "session" / "transcript.txt").read_text() == "kept"


def test_mark_is_a_value():
    assert Mark(3, "x") == Mark(3, "x")
