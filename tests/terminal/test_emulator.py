"""The Emulator: pyte 0.8.2's traps, what clive adds, and the fast path's exactness."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clive.terminal.emulator import Emulator


def _screen(text: str, cols: int = 20, rows: int = 5) -> Emulator:
    emulator = Emulator(cols, rows)
    emulator.feed(text)
    return emulator


def test_vim_modify_other_keys_sequence_neither_raises_nor_underlines():
    emulator = _screen("\x1b[>4;2mX")
    assert emulator.lines()[0] == "X"
    assert not emulator.cells()[0][0].underscore


def test_private_sgr_is_ignored():
    emulator = _screen("\x1b[?4mX")
    assert emulator.lines()[0] == "X"


def test_zero_width_joiner_and_variation_selector_keep_the_rest_of_the_text():
    assert _screen("a\u200d b end").lines()[0].endswith("b end")
    assert _screen("❤\ufe0f ok").lines()[0] == "❤\ufe0f ok"


def test_zwj_emoji_sequence_is_one_two_column_cell_as_in_tmux():
    emulator = _screen("👨\u200d👩\u200d👧x")
    assert emulator.cursor.x == 3
    assert emulator.lines()[0] == "👨\u200d👩\u200d👧x"


def test_scroll_up_and_down():
    emulator = _screen("1\r\n2\r\n3\r\n4\r\n5", cols=5, rows=5)
    emulator.feed("\x1b[2S")
    assert emulator.lines() == ["3", "4", "5", "", ""]
    emulator.feed("\x1b[T")
    assert emulator.lines() == ["", "3", "4", "5", ""]


def test_repeat_last_character():
    assert _screen("ab\x1b[3b").lines()[0] == "abbbb"


def test_osc_title_is_taken_and_other_osc_leave_no_trace():
    emulator = _screen("\x1b]0;my title\x07a\x1b]133;A\x07b\x1b]7;file://h/tmp\x1b\\c")
    emulator.feed("\x1b]8;;http://x\x07link\x1b]8;;\x07")
    assert emulator.title == "my title"
    assert emulator.lines()[0] == "abclink"


def test_dcs_and_apc_strings_leave_no_trace():
    assert _screen("a\x1bP+q544e\x1b\\b\x1b_hidden\x1b\\c").lines()[0] == "abc"


def test_colon_sgr_sets_colour_and_prints_nothing():
    emulator = _screen("\x1b[38:2::255:0:0mR\x1b[4:3mU")
    assert emulator.lines()[0] == "RU"
    assert emulator.cells()[0][0].fg == "ff0000"


def test_alternate_screen_leaves_the_main_screen_as_it_was():
    for mode in ("1049", "1047", "47"):
        emulator = _screen("main text\r\nsecond")
        before, cursor = emulator.lines(), emulator.cursor
        emulator.feed(f"\x1b[?{mode}h\x1b[2J\x1b[Hfull screen app")
        assert emulator.alt_screen
        assert emulator.lines()[0] == "full screen app"
        emulator.feed(f"\x1b[?{mode}l")
        assert not emulator.alt_screen
        assert emulator.lines() == before
        if mode == "1049":
            assert emulator.cursor == cursor


def test_cursor_position_and_device_attribute_queries_are_answered():
    answers: list[str] = []
    emulator = Emulator(20, 5, respond=answers.append)
    emulator.feed("ab\r\ncd\x1b[6n\x1b[c\x1b[>c\x1b[5n")
    assert answers[0] == "\x1b[2;3R"
    assert answers[1].startswith("\x1b[?")
    assert answers[2].startswith("\x1b[>")
    assert answers[3] == "\x1b[0n"


def test_sequence_split_anywhere_gives_the_same_screen():
    text = "a\x1b[1;31mred\x1b[0m\x1b]0;t\x07\x1b[2;3Hx\x1bP1$r\x1b\\\x1b[?1049h\x1b[?1049lz"
    whole = _screen(text)
    for cut in range(1, len(text)):
        split = Emulator(20, 5)
        split.feed(text[:cut])
        split.feed(text[cut:])
        assert split.lines() == whole.lines(), cut
        assert split.cursor == whole.cursor, cut


def test_wide_character_at_the_last_column_wraps():
    emulator = _screen("abcd日", cols=5, rows=3)
    assert emulator.lines()[:2] == ["abcd", "日"]


def test_overwriting_half_a_wide_character_blanks_the_other_half():
    emulator = _screen("日本\rx", cols=10, rows=2)
    assert emulator.lines()[0] == "x 本"


def test_line_drawing_charset_draws_boxes():
    assert _screen("\x1b(0lqqk\x1b(B ok").lines()[0] == "┌──┐ ok"


def test_garbage_never_raises():
    emulator = Emulator(10, 3)
    emulator.feed("\x1b[99999999999999999999m\x1b[;;;;;;;H\x1b[?99999h\x9b\x9d\x00\x7f\ud800x")
    emulator.feed("\x1b[" + ";".join(["1"] * 5000) + "m")
    assert emulator.lines()[0].endswith("x")


# -- the fast path -------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "word ",
        "日本",
        "😀",
        "\x1b[31m",
        "\x1b[1;42m",
        "\x1b[0m",
        "\x1b[m",
        "\r\n",
        "\r\n",
        "\r\n",
        "\r",
        "\n",
        "\x1b[K",
        "\x1b[2K",
        "\t",
        "\b",
        "0123456789",
        "\x1b[H",
        "\x1b[2J",
        "\x1b[3;5r",
        "\x1b[r",
        "\x1b[A",
        "\x1b[2;4H",
        "\x1b[?1049h",
        "\x1b[?1049l",
        "progress 50%",
        "█▌",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(_PIECES, min_size=1, max_size=400),
    size=st.sampled_from([(10, 5), (20, 8), (7, 3)]),
)
def test_fast_path_gives_the_same_screen_as_feeding_piece_by_piece(pieces, size):
    """Skipping scrolled rows and overdrawn redraws must not change a single cell."""
    cols, rows = size
    text = "".join(pieces)
    fast, slow = Emulator(cols, rows), Emulator(cols, rows)
    fast.feed(text)
    for piece in pieces:  # each piece has at most one line feed: the fast path never runs
        slow.feed(piece)
    assert fast.lines() == slow.lines()
    assert fast.cursor == slow.cursor
    assert fast.cells() == slow.cells()


def test_fast_path_after_many_lines_keeps_colour_state():
    text = "".join(f"\x1b[3{i % 8}mline {i}\r\n" for i in range(500)) + "tail"
    fast, slow = Emulator(20, 5), Emulator(20, 5)
    fast.feed(text)
    for line in text.split("\n"):
        slow.feed(line + "\n" if line != "tail" else line)
    assert fast.cells() == slow.cells()
    assert fast.lines()[-1] == "tail"


def test_osc_cut_short_by_another_sequence_does_not_swallow_the_screen():
    # As in xterm, the string runs until the next escape sequence, which ends it.
    emulator = _screen("\x1b]0;never terminated\r\nstill in it \x1b[1mbold\x1b[0m\r\nnext")
    assert emulator.lines()[:2] == ["bold", "next"]


def test_sequence_held_back_is_not_lost_when_the_rest_arrives_as_plain_text():
    flood = "".join(f"{i}\r\n" for i in range(40)) + "end"
    split, whole = Emulator(10, 5), Emulator(10, 5)
    split.feed("top\x1b[2;1")
    split.feed("H" + flood, plain=True)
    whole.feed("top\x1b[2;1H" + flood)
    assert split.lines() == whole.lines()
    assert split.cursor == whole.cursor
