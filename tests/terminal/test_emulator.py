"""The Emulator: pyte 0.8.2's traps, what clive adds, and the fast path's exactness.

Where terminals differ, the expected screens are tmux 3.3a's (checked with
``tests/tmux_reference.py``) unless a test says otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

import clive.terminal.emulator as emulator_module
from clive.terminal._escapes import MAX_HELD_BACK
from clive.terminal.emulator import Cursor, Emulator


def _screen(text: str, cols: int = 20, rows: int = 5) -> Emulator:
    emulator = Emulator(cols, rows)
    emulator.feed(text)
    return emulator


def _state(emulator: Emulator) -> tuple:
    return emulator.lines(), emulator.cursor, emulator.cells(), emulator.title


def _whole_and_piecewise(text: str, cols: int, rows: int) -> tuple[Emulator, Emulator]:
    """``text`` fed in one call (shortcuts allowed) and one character at a time (none)."""
    whole, piecewise = Emulator(cols, rows), Emulator(cols, rows)
    whole.feed(text)
    for char in text:
        piecewise.feed(char)
    return whole, piecewise


# -- pyte 0.8.2's traps ----------------------------------------------------------------------


def test_vim_modify_other_keys_sequence_neither_raises_nor_underlines():
    emulator = _screen("\x1b[>4;2mX")
    assert emulator.lines()[0] == "X"
    assert not emulator.cells()[0][0].underscore


def test_private_sgr_is_ignored():
    emulator = _screen("\x1b[?4mX")
    assert emulator.lines()[0] == "X"
    assert not emulator.cells()[0][0].underscore


def test_text_after_a_zero_width_joiner_is_drawn():
    assert _screen("a\u200d b end").lines()[0].endswith("b end")


def test_text_after_an_emoji_variation_selector_is_drawn():
    emulator = _screen("❤\ufe0f ok")
    assert emulator.lines()[0] == "❤\ufe0f ok"
    assert emulator.cursor.x == 4  # as in tmux: the heart keeps one column


def test_zwj_emoji_sequence_is_one_two_column_cell_as_in_tmux():
    emulator = _screen("👨\u200d👩\u200d👧x")
    assert emulator.cursor.x == 3
    assert emulator.lines()[0] == "👨\u200d👩\u200d👧x"


def test_scroll_up_moves_text_up_and_leaves_blank_rows_at_the_bottom():
    emulator = _screen("1\r\n2\r\n3\r\n4\r\n5", cols=5, rows=5)
    emulator.feed("\x1b[2S")
    assert emulator.lines() == ["3", "4", "5", "", ""]
    assert emulator.cursor == Cursor(1, 4)  # SU does not move the cursor


def test_scroll_down_moves_text_down_and_leaves_blank_rows_at_the_top():
    emulator = _screen("1\r\n2\r\n3\r\n4\r\n5", cols=5, rows=5)
    emulator.feed("\x1b[T")
    assert emulator.lines() == ["", "1", "2", "3", "4"]


def test_scrolling_stays_inside_the_scrolling_region():
    assert _screen("1\r\n2\r\n3\x1b[2;3r\x1b[S", rows=3).lines() == ["1", "3", ""]
    assert _screen("1\r\n2\r\n3\x1b[1;2r\x1b[T", rows=3).lines() == ["", "1", "3"]


def test_repeat_draws_the_last_character_again():
    assert _screen("ab\x1b[3b").lines()[0] == "abbbb"
    assert _screen("a\x1b[b").lines()[0] == "aa"


def test_osc_0_and_2_set_the_title():
    assert _screen("\x1b]0;first\x07x").title == "first"
    emulator = _screen("\x1b]2;second\x1b\\x")
    assert emulator.title == "second"
    assert emulator.lines()[0] == "x"


def test_other_osc_strings_leave_no_trace():
    emulator = _screen("a\x1b]133;A\x07b\x1b]7;file://host/tmp\x1b\\c\x1b]52;c;aGk=\x07d")
    emulator.feed(
        "\x1b]8;;http://example.com\x07link\x1b]8;;\x07 \x1b]8;id=1;http://x\x1b\\2\x1b]8;;\x1b\\"
    )
    assert emulator.lines()[0] == "abcdlink 2"
    assert emulator.title == ""


def test_dcs_apc_pm_and_sos_strings_leave_no_trace():
    text = "a\x1bP+q544e\x1b\\b\x1b_Gf=100;AAAA\x1b\\c\x1b^private\x1b\\d\x1bXsos\x1b\\e"
    assert _screen(text).lines()[0] == "abcde"
    # BEL ends an OSC only: these strings go on to their ST, as in tmux and xterm.
    assert _screen("a\x1bPdcs\x07b\x1b\\c\x1b_apc\x07d\x1b\\e").lines()[0] == "ace"


def test_colon_sgr_true_colour_sets_the_colour():
    emulator = _screen("\x1b[38:2::255:0:0mR\x1b[48:2:0:0:255mB\x1b[38:5:46mG")
    assert emulator.lines()[0] == "RBG"
    cells = emulator.cells()[0]
    assert cells[0].fg == "ff0000"
    assert cells[1].bg == "0000ff"
    assert cells[2].fg == "00ff00"


def test_colon_underline_style_underlines_and_prints_nothing():
    emulator = _screen("\x1b[4:3mU\x1b[24mn")
    assert emulator.lines()[0] == "Un"
    assert emulator.cells()[0][0].underscore
    assert not emulator.cells()[0][1].underscore


@pytest.mark.parametrize("mode", ["1049", "1047", "47"])
def test_leaving_the_alternate_screen_restores_the_main_screen(mode):
    emulator = _screen("main text\r\nsecond")
    before = emulator.lines()
    emulator.feed(f"\x1b[?{mode}h")
    assert emulator.alt_screen
    assert emulator.lines() == [""] * 5  # the alternate screen starts blank
    emulator.feed("\x1b[Hfull screen app\x1b[4;3H")
    assert emulator.lines()[0] == "full screen app"
    emulator.feed(f"\x1b[?{mode}l")
    assert not emulator.alt_screen
    assert emulator.lines() == before


@pytest.mark.parametrize(("mode", "cursor"), [("1049", (3, 1)), ("1047", (1, 2)), ("47", (1, 2))])
def test_only_1049_restores_the_cursor_as_in_tmux(mode, cursor):
    emulator = _screen(f"main\r\nxy\x1b[?{mode}hALT\r\n\r\n\x1b[?{mode}lZ", rows=3)
    assert (emulator.cursor.x, emulator.cursor.y) == cursor


def test_cursor_position_report_says_where_the_cursor_is():
    answers: list[str] = []
    emulator = Emulator(5, 5, respond=answers.append)
    emulator.feed("ab\r\ncd\x1b[6n")
    emulator.feed("\r\nabcde\x1b[6n")  # a full row: the cursor waits on the last column
    emulator.feed("\x1b[2;4r\x1b[?6h\x1b[2;3H\x1b[6n")  # origin mode: relative to the region
    assert answers == ["\x1b[2;3R", "\x1b[3;5R", "\x1b[2;3R"]


def test_device_status_and_attribute_queries_are_answered_in_order():
    answers: list[str] = []
    emulator = Emulator(20, 5, respond=answers.append)
    emulator.feed("\x1b[c\x1b[>c\x1b[5n\x1b[0c\x1b[>0c")
    assert answers[0].startswith("\x1b[?") and answers[0].endswith("c")
    assert answers[1].startswith("\x1b[>") and answers[1].endswith("c")
    assert answers[2] == "\x1b[0n"
    assert answers[3:] == answers[:2]


_EVERYTHING = (
    "a\x1b[1;31mred\x1b[0m\x1b]0;t\x07\x1b[2;3Hx\x1bP1$r\x1b\\\x1b[?1049hALT\x1b[?1049lz"
    "\x1b[38:2::255:0:0mR\x1b[4:3mU\x1b[>4;2m\x1b[?4m\x1b_apc\x1b\\\x1b]8;;http://x\x1b\\L"
    "\x1b]8;;\x1b\\日本\u200d😀❤\ufe0f\x1b(0lqk\x1b(B\x1b[6n\x1b[c\x1b[>c\x1b[2S\x1b[T"
    "e\x1b[3b\x1b]2;title two\x1b\\e\u0301\r\n\x1b7\x1b[5;2r\x1b[3;1Hin region\x1b8\x1b[r."
)


def _fed_in_pieces(text: str, cuts: list[int]) -> tuple[tuple, list[str]]:
    answers: list[str] = []
    emulator = Emulator(12, 6, respond=answers.append)
    start = 0
    for cut in [*sorted(cuts), len(text)]:
        emulator.feed(text[start:cut])
        start = cut
    return _state(emulator), answers


def test_sequence_split_at_any_point_gives_the_same_screen():
    whole = _fed_in_pieces(_EVERYTHING, [])
    for cut in range(1, len(_EVERYTHING)):
        assert _fed_in_pieces(_EVERYTHING, [cut]) == whole, repr(_EVERYTHING[cut - 5 : cut + 5])


@settings(max_examples=examples(100), deadline=None)
@given(cuts=st.lists(st.integers(0, len(_EVERYTHING)), max_size=20))
def test_output_cut_into_any_pieces_gives_the_same_screen(cuts):
    assert _fed_in_pieces(_EVERYTHING, cuts) == _fed_in_pieces(_EVERYTHING, [])


def test_wide_character_at_the_last_column_wraps():
    emulator = _screen("abcd日", cols=5, rows=3)
    assert emulator.lines()[:2] == ["abcd", "日"]
    assert emulator.cursor == Cursor(2, 1)


def test_overwriting_the_left_half_of_a_wide_character_blanks_the_right_half():
    assert _screen("日本\rx", cols=10, rows=2).lines()[0] == "x 本"


def test_overwriting_the_right_half_of_a_wide_character_blanks_the_left_half():
    assert _screen("日本\x1b[1;2Hx", cols=10, rows=2).lines()[0] == " x本"
    assert _screen("日本\x1b[1;2H語", cols=10, rows=2).lines()[0] == " 語"


def test_line_drawing_charset_draws_boxes():
    assert _screen("\x1b(0lqqk\x1b(B ok").lines()[0] == "┌──┐ ok"
    assert _screen("\x1b)0a\x0elqk\x0fb").lines()[0] == "a┌─┐b"  # G1 by shift out / in


def test_garbage_never_raises():
    emulator = Emulator(10, 3)
    emulator.feed("\x1b[99999999999999999999m\x1b[;;;;;;;H\x1b[?99999h\x9b\x9d\x00\x7f\ud800x")
    assert emulator.lines()[0].endswith("x")
    emulator.feed("\x1b[" + ";".join(["1"] * 5000) + "m\x1b[38:5:99999m\x1b[99999b\x1b[9999S")
    emulator.feed("\x1b[99999@\x1b[99999;99999r\x1b[99999L\x1b[H\x1b[99999My")
    assert emulator.lines()[0] == "y"


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
    assert _state(split) == _state(whole)


# -- the byte grammar and joining: bugs of pyte's parser, each pinned --------------------------


def test_escape_inside_an_unfinished_sequence_starts_a_new_one():
    # `printf '\e['` followed by any sequence: tmux and xterm drop the cut CSI.
    emulator = _screen("\x1b[\x1b[1mX\x1b[12\x1b[2CY")
    assert emulator.lines()[0] == "X  Y"
    assert emulator.cells()[0][0].bold


def test_escape_after_a_lone_escape_starts_a_new_sequence():
    assert _screen("a\x1b\x1b[1mX").lines()[0] == "aX"
    assert _screen("junk\x1b\x1bcX").lines()[0] == "X"  # the reset is not lost


def test_unfinished_string_after_one_cut_short_is_held_back():
    # split_unfinished_escape("\x1b]0;a\x1b]0;b") holds nothing back: pyte gets the raw OSC
    # start and swallows all later text, waiting for a BEL that the prefilter removes with
    # every OSC. Fed in one piece, the same output shows "X" and the prompt.
    parts = ["\x1b]0;a\x1b]0;b", "\x1b[1mX\r\n\x1b]133;A\x07$ ", "echo hi\r\nhi\r\n"]
    split = Emulator(30, 4)
    for part in parts:
        split.feed(part)
    assert split.lines() == ["X", "$ echo hi", "hi", ""]


def test_screen_goes_on_after_an_unfinished_string_longer_than_max_held_back():
    # Held back until MAX_HELD_BACK, the OSC then goes to pyte as it is, which swallows all
    # later text waiting for a BEL; the prefilter removes every later OSC with its BEL.
    split = Emulator(30, 4)
    split.feed("\x1b]0;")
    for _ in range(MAX_HELD_BACK // 1000 + 2):
        split.feed("x" * 1000)
    split.feed("\r\nvisible\r\n\x1b]133;A\x07$ ")
    split.feed("echo hi\r\nhi\r\n")
    assert "$ echo hi" in split.lines()
    assert "hi" in split.lines()


def test_text_after_an_osc_that_follows_an_unfinished_csi_is_drawn():
    emulator = _screen("\x1b[\x1b]0;t\x07X")
    assert emulator.title == "t"
    assert emulator.lines()[0] == "X"  # drawn, not read as ECH (CSI X)


def test_apc_cut_short_by_another_sequence_leaves_no_trace():
    assert _screen("x\x1b_abc\x1b[1mbold").lines()[0] == "xbold"  # tmux and xterm agree


def test_reset_after_an_unterminated_dcs_takes_effect():
    # split_unfinished_escape already says a string is cut short by the next sequence, as in
    # xterm; the prefilter instead runs the DCS on to the BEL of the next OSC, so the reset
    # (and the prompt) vanish and the line-drawing charset stays on.
    assert _screen("\x0e\x1bPjunk\x1bcafter\x1b]0;t\x07tail").lines()[0] == "aftertail"


def test_cancel_aborts_an_osc():
    assert _screen("x\x1b]0;t\x18def").lines()[0] == "xdef"  # as tmux; DEC terminals too


def test_underline_colour_changes_no_other_attribute():
    for sgr in ("58:2::1:2:3", "58;2;1;2;3", "58:5:3", "58;5;3"):
        cell = _screen(f"\x1b[{sgr}mX").cells()[0][0]
        assert not (cell.bold or cell.italics or cell.blink), sgr


def test_underline_style_zero_turns_underline_off():
    assert not _screen("\x1b[4mA\x1b[4:0mX").cells()[0][1].underscore


def test_joiner_at_the_end_of_a_line_does_not_pull_the_next_line_onto_it():
    # A joiner that no emoji follows is dropped, as tmux does.
    assert _screen("ab\u200d\r\ncd").lines()[:2] == ["ab", "cd"]


def test_joiner_before_a_space_keeps_the_columns_of_the_text_after_it():
    assert _screen("a\u200d b end").cursor.x == 7  # as in tmux


def test_combining_mark_after_a_cursor_move_does_not_change_earlier_text():
    assert _screen("x\x1b[2;5H\u0301y").lines()[0] == "x"  # tmux puts it before the cursor


# -- the fast path ---------------------------------------------------------------------------
#
# Emulator.feed takes two shortcuts on row-local output (text, SGR, erase-in-line, CR, LF, TAB,
# BS, BEL): rows that scroll away within one call are skipped (``_feed_row_local`` only when
# the run holds at least 2 * rows + 2 line feeds) and CR redraws that a later redraw covers
# are dropped (``_skip_overdrawn_redraws`` only when a run holds more than 2 CRs). Text fed
# one or two characters at a time can take neither (an escape sequence held back between calls
# holds no CR or LF), so it is the exact reference; ``_shortcuts_taken`` checks that too.

_TEXT = st.lists(
    st.sampled_from([*"abcdefghij XYZ0123456789%#=-", "日", "本", "語", "😀", "🚀", "é", "█", "▌"]),
    max_size=30,
).map("".join)
_SGR = st.sampled_from(
    [
        "\x1b[31m",
        "\x1b[1;42m",
        "\x1b[0m",
        "\x1b[m",
        "\x1b[38;5;208m",
        "\x1b[48;2;1;2;3m",
        "\x1b[4m",
        "\x1b[7m",
        "\x1b[39;49m",
        "\x1b[22m",
        "\x1b[38:2::255:0:0m",
    ]
)
_PROGRESS = st.lists(st.integers(0, 100), min_size=3, max_size=20).map(
    lambda percents: "".join(f"\r{p:3d}% [{'#' * (p // 10)}]" for p in percents)
)
_ROW_LOCAL = st.one_of(
    _TEXT,
    _SGR,
    st.sampled_from(["\r\n", "\r\n", "\r\n", "\n", "\x1b[K", "\x1b[2K", "\x1b[1K", "\x1b[0K"]),
    st.sampled_from(["\t", "\b", "\b\b"]),
    _TEXT.map(lambda text: "\r" + text),
    _PROGRESS,
    st.lists(_TEXT, min_size=1, max_size=40).map(lambda lines: "\r\n".join(lines) + "\r\n"),
)
_ELSEWHERE = st.sampled_from(
    [
        "\x1b[A",
        "\x1b[3A",
        "\x1b[2;4H",
        "\x1b[H",
        "\x1b[2J",
        "\x1b[J",
        "\x1b[5;10r",
        "\x1b[2;4r",
        "\x1b[r",
        "\x1bM",
        "\x1b7",
        "\x1b8",
        "\x1b[2S",
        "\x1b[T",
        "\x1b[3G",
        "\x1b[2P",
        "\x1b[2@",
        "\x1b[L",
        "\x1b[M",
        "\x1b[3X",
        "\x1b[?7l",
        "\x1b[?7h",
        "\x1b(0",
        "\x1b(B",
        "\x0e",
        "\x0f",
        "\x1b[?1049h",
        "\x1b[?1049l",
        "\x1b]0;title\x07",
    ]
)
# Mostly long row-local runs (where the shortcuts apply), now and then something else.
_RUN = st.lists(_ROW_LOCAL, min_size=1, max_size=60).map("".join)
_OUTPUT = st.lists(st.one_of(_RUN, _RUN, _RUN, _ELSEWHERE), min_size=1, max_size=10).map("".join)


@contextlib.contextmanager
def _shortcuts_taken() -> Iterator[dict[str, int]]:
    """Count the times the fast path skipped scrolled rows or dropped overdrawn redraws."""
    taken = {"scrolled rows": 0, "overdrawn redraws": 0}
    cut_after_scrolled_rows = emulator_module._cut_after_scrolled_rows
    skip_overdrawn_redraws = emulator_module._skip_overdrawn_redraws

    def counting_cut(text: str, rows: int) -> int | None:
        cut = cut_after_scrolled_rows(text, rows)
        taken["scrolled rows"] += cut is not None
        return cut

    def counting_skip(text: str, cols: int) -> str:
        kept = skip_overdrawn_redraws(text, cols)
        taken["overdrawn redraws"] += kept != text
        return kept

    with (
        mock.patch.object(emulator_module, "_cut_after_scrolled_rows", counting_cut),
        mock.patch.object(emulator_module, "_skip_overdrawn_redraws", counting_skip),
    ):
        yield taken


@settings(max_examples=examples(400), deadline=None)
@given(
    text=_OUTPUT,
    size=st.sampled_from([(10, 5), (20, 8), (7, 3)]),
    piece=st.integers(min_value=1, max_value=2),
)
# A redraw with a tab that wraps: the later redraws are on the next row.
@example(
    text="\r  0% []\r 10% [#]\r  0% []\taaa\r  0% []\r  0% []\r  0% []a", size=(10, 5), piece=1
)
def test_fast_path_gives_the_same_screen_as_feeding_piece_by_piece(text, size, piece):
    """Skipping scrolled rows and overdrawn redraws must not change a single cell."""
    cols, rows = size
    fast, slow = Emulator(cols, rows), Emulator(cols, rows)
    with _shortcuts_taken() as taken:
        fast.feed(text)
        event(", ".join(name for name, count in taken.items() if count) or "no shortcut")
        taken.update(dict.fromkeys(taken, 0))
        for start in range(0, len(text), piece):
            slow.feed(text[start : start + piece])
        assert not any(taken.values()), "the reference took a shortcut"
    assert fast.lines() == slow.lines()
    assert fast.cursor == slow.cursor
    assert fast.cells() == slow.cells()


def test_fast_path_after_many_lines_keeps_colour_state():
    text = "".join(f"\x1b[3{i % 8}mline {i}\r\n" for i in range(500)) + "tail"
    fast, slow = _whole_and_piecewise(text, 20, 5)
    assert fast.cells() == slow.cells()
    assert fast.lines()[-1] == "tail"


def test_plain_flag_gives_the_same_screen():
    text = "".join(f"{i} progress\r{i} done\r\n" for i in range(100)) + "\tend"
    promised, checked = Emulator(20, 5), Emulator(20, 5)
    promised.feed(text, plain=True)
    checked.feed(text)
    assert _state(promised) == _state(checked)


def test_progress_redraws_in_insert_mode_are_all_drawn():
    fast, slow = _whole_and_piecewise("\x1b[4h\r111\r222\r333\r444\x1b[4l", 10, 3)
    assert slow.lines()[0] == "4443332221"  # as tmux
    assert fast.lines() == slow.lines()


def test_bell_in_a_progress_redraw_takes_no_column():
    fast, slow = _whole_and_piecewise("\rabcd\rxy\a\a\rz", 10, 3)
    assert slow.lines()[0] == "zycd"
    assert fast.lines() == slow.lines()


def test_zwj_sequence_in_a_progress_redraw_does_not_hide_earlier_text():
    fast, slow = _whole_and_piecewise("\rXXXXXX\r👨\u200d👩\u200d👧\rz", 10, 3)
    assert slow.lines()[0] == "z XXXX"  # as tmux
    assert fast.lines() == slow.lines()


def test_repeat_after_rows_scrolled_away_gives_the_same_screen_as_piece_by_piece():
    # tmux repeats nothing after a control character, xterm repeats the "c": either way the
    # screen must not depend on how the output was cut into reads.
    fast, slow = _whole_and_piecewise("abc" + "\r\n" * 20 + "\x1b[3b", 10, 3)
    assert fast.lines() == slow.lines()


# -- xterm behaviour pyte lacked -------------------------------------------------------------


def test_resize_during_a_full_screen_program_keeps_the_main_rows_its_own_cursor_chooses():
    emulator = Emulator(20, 10)
    emulator.feed("one\r\ntwo\r\nthree")  # the shell's cursor is on row 2
    emulator.feed("\x1b[?1049h\x1b[10;1Hbottom of the editor")  # the editor's on row 9
    emulator.resize(20, 5)
    emulator.feed("\x1b[?1049l")
    # Rows below the main cursor go first: "one" stays, as tmux keeps it.
    assert emulator.lines()[:3] == ["one", "two", "three"]
    assert emulator.cursor == Cursor(5, 2)


def test_colour_names_are_the_same_in_both_planes_for_all_sixteen_colours():
    foreground = "".join(f"\x1b[{code}mX" for code in [*range(30, 38), *range(90, 98)])
    background = "".join(f"\x1b[{code}mX" for code in [*range(40, 48), *range(100, 108)])
    emulator = _screen(foreground + "\r\n" + background, cols=16)
    fg = [cell.fg for cell in emulator.cells()[0]]
    bg = [cell.bg for cell in emulator.cells()[1]]
    assert fg == bg
    assert len(set(fg)) == 16 and "bfightmagenta" not in bg


def test_erasing_in_a_colour_gives_blank_cells_only_its_background():
    emulator = _screen("\x1b[1;4;31;44mab\x1b[K")
    cell = emulator.cells()[0][5]
    assert (cell.data, cell.bg, cell.fg, cell.bold, cell.underscore) == (
        " ",
        "blue",
        "default",
        False,
        False,
    )


_GRAMMAR = st.lists(
    st.one_of(
        st.sampled_from(["\x1b", "[", "]", "P", "_", "?", ">", ";", ":", "\x07", "\x18", "\x1a"]),
        st.sampled_from(["\x1b[", "\x1b]0;", "\x1bP", "\x1b\\", "\x1b(0", "\x1b#8", "\x0e"]),
        st.sampled_from(["!p", " q", "$p", "\r\n", "\x1bc", "\x1b7", "\x1b8", "?1049h", "?6h"]),
        st.sampled_from([*"0123456789", *"ABCDHJKLMPSTXZ@`abdefghlmnrsu", "\t", "\b", "\x0f"]),
        st.sampled_from(["é", "\u0301", "\u200d", "日", "😀", "\U0001f1eb", "\u093f", "\x85"]),
        st.text(max_size=3),
    ),
    max_size=80,
).map("".join)


@settings(max_examples=examples(400), deadline=None)
@given(text=_GRAMMAR, cut=st.integers(0, 80), size=st.sampled_from([(10, 4), (30, 6)]))
def test_any_output_is_handled_without_error_and_the_same_however_it_is_cut(text, cut, size):
    whole, piecewise = Emulator(*size), Emulator(*size)
    whole.feed(text)
    piecewise.feed(text[:cut])
    piecewise.feed(text[cut:])
    assert whole.handler_errors == piecewise.handler_errors == 0
    assert _state(whole) == _state(piecewise)
