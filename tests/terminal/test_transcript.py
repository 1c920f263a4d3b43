"""The plain-text transcript: what a reader of the output would want to see."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

from clive.terminal.transcript import Mark, Transcript


def _text(*chunks: str) -> str:
    transcript = Transcript()
    for chunk in chunks:
        transcript.append(chunk)
    try:
        return transcript.read()
    finally:
        transcript.close()


def _as_a_terminal_shows_it(text: str) -> str:
    """The reference: ``text`` written on an endless line by line, CR and BS applied."""
    finished, line, column = [], [], 0
    for char in text:
        if char == "\n":
            finished.append("".join(line) + "\n")
            line, column = [], 0
        elif char == "\r":
            column = 0
        elif char == "\b":
            column = max(0, column - 1)
        else:
            line[column : column + 1] = [char]
            column += 1
    return "".join(finished) + "".join(line)


def test_progress_bar_leaves_its_last_state():
    assert _text("0%\r10%\r50%\r100%\r\nnext\r\n") == "100%\nnext\n"


def test_progress_bar_leaves_its_last_state_across_chunks():
    assert _text("\r50%", "\r100%\n") == "100%\n"
    assert _text("\r10%", "\r50%", "\r100%\r", "\n", "next\r\n") == "100%\nnext\n"
    assert _text("downloading 10%\rdone", "\r\n") == "doneloading 10%\n"


def test_backspaces_overwrite():
    assert _text("abc\b\bX\r\n") == "aXc\n"
    assert _text("abc", "\b\bX", "\n") == "aXc\n"
    assert _text("\b\bab\n") == "ab\n"  # nothing left of the line start to go back to


def test_escape_sequences_are_stripped():
    text = "\x1b[1;31mred\x1b[0m \x1b]0;title\x07\x1b[2Kplain\x1bP1$r\x1b\\\x1b(0\x1b[?25l\r\n"
    assert _text(text) == "red plain\n"


def test_alternate_screen_text_is_left_out():
    assert _text("before\r\n\x1b[?1049hvim draws here\x1b[H", "more\x1b[?1049lafter\r\n") == (
        "before\nafter\n"
    )
    assert _text("a\x1b[?47hhidden\x1b[?47lb\x1b[?1047hhidden\x1b[?1047lc\n") == "abc\n"


def test_plain_text_in_the_alternate_screen_is_left_out():
    transcript = Transcript()
    transcript.append("before\n\x1b[?1049h")
    transcript.append_plain_ascii(b"drawn by a full-screen program\r\n")
    transcript.append("\x1b[?1049lafter\n")
    assert transcript.read() == "before\nafter\n"
    transcript.close()


def test_line_without_newline_is_readable():
    assert _text("prompt$ ") == "prompt$ "
    assert _text("one\n", "prompt$ ") == "one\nprompt$ "


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
    assert transcript.read() == "one\ntwo\nthree\nfour\n"
    assert transcript.size(start, middle) == len("two\nthr")
    transcript.close()


@settings(max_examples=examples(200), deadline=None)
@given(chunks=st.lists(st.text(alphabet="ab日\t\n", max_size=30), max_size=12), data=st.data())
def test_read_between_any_two_marks_gives_what_was_appended_between_them(chunks, data):
    transcript = Transcript()
    marks = [transcript.mark()]
    for chunk in chunks:
        transcript.append(chunk)
        marks.append(transcript.mark())
    start = data.draw(st.integers(0, len(chunks)))
    end = data.draw(st.integers(start, len(chunks)))
    between = "".join(chunks[start:end])
    try:
        assert transcript.read(marks[start], marks[end]) == between
        assert transcript.size(marks[start], marks[end]) == len(between.encode())
    finally:
        transcript.close()


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.text(alphabet="ab日 \r\n\b\t", max_size=30), max_size=20))
def test_carriage_returns_and_backspaces_are_applied_as_a_terminal_would(chunks):
    transcript = Transcript()
    for chunk in chunks:
        transcript.append(chunk)
    try:
        assert transcript.read() == _as_a_terminal_shows_it("".join(chunks))
    finally:
        transcript.close()


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.text(alphabet="ab c\r\n\t", max_size=50), max_size=20))
def test_plain_ascii_fast_path_matches_the_general_path(chunks):
    fast, general = Transcript(), Transcript()
    for chunk in chunks:
        fast.append_plain_ascii(chunk.encode())
        general.append(chunk)
    try:
        assert fast.read() == general.read()
        assert fast.mark() == general.mark()
    finally:
        fast.close()
        general.close()


def test_endless_line_is_committed_in_part_and_stays_readable():
    transcript = Transcript()
    for _ in range(300):
        transcript.append("x" * 10_000)
    assert len(transcript.mark().pending) <= (1 << 20) + 10_000
    transcript.append("y" * 1_000_000)  # in one piece
    assert len(transcript.mark().pending) <= 1 << 20
    assert transcript.read() == "x" * 3_000_000 + "y" * 1_000_000
    transcript.append("\n")
    assert transcript.read() == "x" * 3_000_000 + "y" * 1_000_000 + "\n"
    transcript.close()


def test_a_transcript_without_a_path_has_no_name_and_a_named_one_is_kept(tmp_path):
    temporary = Transcript(directory=tmp_path / "private")
    temporary.append("bye\n")
    assert temporary.path is None and temporary.read() == "bye\n"
    assert list((tmp_path / "private").iterdir()) == [], "nothing there has a name"
    temporary.close()
    temporary.close()  # closing twice is harmless
    named = Transcript(tmp_path / "session" / "transcript.txt")
    named.append("kept")
    named.close()
    assert Path(tmp_path / "session" / "transcript.txt").read_text() == "kept"
    assert (tmp_path / "session" / "transcript.txt").stat().st_mode & 0o077 == 0


def test_save_writes_through_the_filter_a_line_at_a_time(tmp_path):
    transcript = Transcript(save_filter=lambda text: text.replace("secret", "******"))
    transcript.append("head\n")
    start = transcript.mark()
    transcript.append("a secret line\n" + "x" * (3 << 20) + "\nsecret at the end")
    transcript.save(tmp_path / "saved.txt", start)
    saved = (tmp_path / "saved.txt").read_text()
    assert saved == transcript.read(start).replace("secret", "******")
    assert saved.startswith("a ****** line\n") and saved.endswith("\n****** at the end")
    transcript.close()


def test_mark_is_a_value():
    assert Mark(3, "x") == Mark(3, "x")


def test_endless_plain_ascii_line_is_capped_in_memory():
    # The Terminal's reader sends plain output through append_plain_ascii (`yes | tr -d '\n'`).
    transcript = Transcript()
    for _ in range(300):
        transcript.append_plain_ascii(b"x" * 10_000)
    try:
        assert transcript.read() == "x" * 3_000_000
        assert len(transcript.mark().pending) <= (1 << 20) + 10_000
    finally:
        transcript.close()


def test_full_reset_ends_the_alternate_screen_in_the_transcript_too():
    # A full-screen program killed without leaving the alternate screen, then `reset`: the
    # screen is back to the main one, and so is the transcript (else every output is "").
    assert _text("\x1b[?1049hvim\x1bc", "after\r\n") == "after\n"
