"""The tmux reference pane itself, and the facts about tmux that clive's emulator must match."""

from __future__ import annotations

import os
import re

import pytest
from tmux_reference import (
    Run,
    Style,
    StyledScreen,
    TmuxError,
    TmuxPane,
    clive_screen,
    compare_screens,
    compare_styled_screens,
    palette_colour,
    render_in_tmux,
)

from clive.terminal import Emulator


def _printf_bytes(text: str) -> str:
    r"""A printf format writing `text` as UTF-8 escapes (`\xf0\x9f...`), so no shell or readline
    needs to handle the characters themselves."""
    return "".join(f"\\x{byte:02x}" for byte in text.encode())


@pytest.mark.tmux
def test_echo_output_is_captured_as_exactly_rows_lines(tmux_pane):
    pane = tmux_pane(cols=40, rows=10)
    pane.send_text("echo hello-tmux\n")
    screen = pane.wait_for_text(r"^hello-tmux$")
    assert screen[:3] == ["$ echo hello-tmux", "hello-tmux", "$"]
    assert len(screen) == 10


@pytest.mark.tmux
def test_text_ending_in_semicolons_is_typed_literally(tmux_pane):
    pane = tmux_pane()
    # tmux's command parser treats a final ";" as a separator and a final "\;" as ";".
    pane.send_text("echo 'a;' 'b\\;';")
    pane.send_keys("Enter")
    pane.wait_for_text(r"^a; b\\;$")


@pytest.mark.tmux
def test_vim_exit_restores_main_screen(tmux_pane):
    pane = tmux_pane()
    pane.send_text("echo before-vim\n")
    pane.wait_for_text(r"^before-vim$")
    assert not pane.alternate_on()
    pane.send_text("vim -u NONE -N\n")
    pane.wait_for_text(r"^~")
    assert pane.alternate_on()
    pane.send_text(":q\n")
    screen = pane.wait_for_text(r"^\$ vim -u NONE -N\n\$$")
    assert not pane.alternate_on()
    assert screen[:2] == ["$ echo before-vim", "before-vim"]


@pytest.mark.tmux
def test_resize_changes_tput_cols(tmux_pane):
    pane = tmux_pane(cols=80, rows=24)
    pane.resize(100, 30)
    pane.send_text("tput cols; tput lines\n")
    pane.wait_for_text(r"^100\n30$")
    assert len(pane.capture()) == 30


@pytest.mark.tmux
def test_cursor_follows_printf(tmux_pane):
    pane = tmux_pane()
    pane.send_text("clear; printf 'ab\\ncde'; read -r\n")
    pane.wait_for_text(r"\Aab\ncde$")
    assert pane.cursor() == (3, 1)
    pane.send_keys("Enter")
    pane.send_text("clear; printf 'x\\e[5;10Hy'; read -r\n")
    pane.wait_for_text(r"\Ax\n\n\n\n {9}y$")
    assert pane.cursor() == (10, 4)


# What tmux 3.3a (with glibc's character widths) shows; a different tmux may differ, and then
# clive's emulator has to be checked against the new facts.
@pytest.mark.tmux
@pytest.mark.parametrize(
    ("text", "cursor_x"),
    [
        pytest.param("😀", 2, id="emoji"),
        pytest.param("日本語", 6, id="cjk"),
        # The whole ZWJ sequence takes two columns, like a single emoji.
        pytest.param("👨‍👩‍👧", 2, id="zwj-family"),
        # VS16 does not widen the heart: it stays one column.
        pytest.param("❤️", 1, id="heart-vs16"),
    ],
)
def test_wide_character_widths(tmux_pane, text, cursor_x):
    pane = tmux_pane()
    pane.send_text(f"clear; printf '{_printf_bytes(text)}'; read -r\n")
    screen = pane.wait_for_text(rf"\A{re.escape(text)}$")
    assert screen[0] == text
    assert pane.cursor() == (cursor_x, 0)


@pytest.mark.tmux
def test_cursor_position_request_is_answered(tmux_pane):
    pane = tmux_pane()
    # bash reads the reply (ESC [ row ; col R) up to its final R.
    # One line: a second line typed meanwhile would reach `read` before the reply does.
    pane.send_text(
        "clear; printf 'ab\\e[6n'; IFS= read -rs -d R -t 5 reply; "
        'echo; echo "reply=${reply:1}R"\n'
    )
    pane.wait_for_text(r"^reply=\[1;3R$")


@pytest.mark.tmux
def test_pane_term_and_prompt(tmux_pane):
    pane = tmux_pane()
    assert pane.term in ("tmux-256color", "screen")
    pane.send_text('echo "term=$TERM"\n')
    screen = pane.wait_for_text(rf"^term={pane.term}$")
    assert screen[0].startswith("$ ")


@pytest.mark.tmux
def test_env_overrides_term(tmux_pane):
    pane = tmux_pane(env={"TERM": "xterm-256color", "GREETING": "hi"})
    pane.send_text('echo "$TERM $GREETING"\n')
    pane.wait_for_text(r"^xterm-256color hi$")


@pytest.mark.tmux
def test_command_runs_in_cwd_and_its_screen_survives_its_exit(tmux_pane, tmp_path):
    (tmp_path / "pane-cwd").mkdir()
    pane = tmux_pane(command='basename "$PWD"; printf done', cwd=str(tmp_path / "pane-cwd"))
    screen = pane.wait_for_text(r"^done$")
    assert screen[:2] == ["pane-cwd", "done"]


@pytest.mark.tmux
def test_wait_for_text_timeout_shows_the_screen(tmux_pane):
    pane = tmux_pane()
    with pytest.raises(AssertionError, match=r"'never-shown'(.|\n)*  0 \$"):
        pane.wait_for_text("never-shown", timeout=0.2)


@pytest.mark.tmux
def test_wait_stable_returns_the_settled_screen(tmux_pane):
    pane = tmux_pane()
    pane.send_text("echo settled\n")
    pane.wait_for_text(r"^settled$")
    assert pane.wait_stable()[1] == "settled"


@pytest.mark.tmux
def test_wait_stable_gives_up_on_a_changing_screen(tmux_pane):
    pane = tmux_pane()
    pane.send_text("while :; do date +%N; done\n")
    with pytest.raises(AssertionError, match="still changing"):
        pane.wait_stable(quiet=0.5, timeout=1)


@pytest.mark.tmux
def test_close_stops_the_server_and_removes_its_socket(tmux_pane):
    pane = tmux_pane()
    assert os.path.exists(pane.socket_path)
    pane.close()
    assert not os.path.exists(pane.socket_path)
    with pytest.raises(TmuxError):
        pane.capture()


@pytest.mark.tmux
@pytest.mark.usefixtures("tmux_pane")  # for its skip when tmux is missing
def test_pane_is_a_context_manager():
    # The command stays until the pane is closed: a command that exits at once can be gone
    # before tmux has drawn what it printed (seen once on a loaded machine).
    with TmuxPane(command="printf inside; cat") as pane:
        pane.wait_for_text("^inside$")
    assert not os.path.exists(pane.socket_path)


def test_compare_screens_ignores_trailing_blanks():
    assert compare_screens(["$ ls", "a  b  ", "", ""], ["$ ls  ", "a  b"]) is None


def test_compare_screens_lists_both_sides_and_marks_differences():
    diff = compare_screens(["$ ls", "日本", "x"], ["$ ls", "日本語"])
    assert diff is not None
    assert diff.splitlines() == [
        "screens differ:",
        "     expected | actual",
        "   0 $ ls     | $ ls",
        "!  1 日本     | 日本語",
        "!  2 x        | ",
    ]


@pytest.mark.tmux
@pytest.mark.usefixtures("tmux_pane")  # for its skip when tmux is missing
def test_render_in_tmux_shows_the_bytes_untouched(tmp_path):
    plain, coloured, query = render_in_tmux(
        [b"ab\ncd", b"\x1b[1;31mred\x1b[0m \x1b[38;5;208mo\x1b[?25l", b"xy\x1b[6n"],
        tmp_path,
        cols=20,
        rows=5,
    )
    # A LF stays a LF (no CR added by the pane's tty).
    assert plain.screen.lines() == ["ab", "  cd", "", "", ""]
    assert plain.screen.cursor == (4, 1)
    assert coloured.screen.rows[0] == (
        Run("red", Style(fg="1", bold=True)),
        Run(" ", Style()),
        Run("o", Style(fg="#ff8700")),
    )
    assert not coloured.screen.cursor_visible
    assert query.answers == "\x1b[1;3R"


@pytest.mark.tmux
@pytest.mark.usefixtures("tmux_pane")
def test_render_in_tmux_reads_what_tmux_capture_prints_oddly(tmp_path):
    # tmux prints overline as "5:3" and curly underline as "4:3", and line drawing as letters
    # between SO and SI.
    (rendering,) = render_in_tmux([b"\x1b[4:3mu\x1b[53mo\x1b[0m\x1b(0lqk\x1b(B"], tmp_path)
    assert rendering.screen.rows[0] == (Run("uo", Style(underline=True)), Run("┌─┐", Style()))


@pytest.mark.tmux
def test_pane_screen_has_colours_cursor_and_modes(tmux_pane):
    pane = tmux_pane(command="printf 'a\\033[44mb\\033[0m\\033[?1h\\033]2;hi\\007'; sleep 60")
    pane.wait_for_text("^ab$")
    screen = pane.screen()
    assert screen.rows[0] == (Run("a", Style()), Run("b", Style(bg="4")))
    assert (screen.cursor, screen.title, screen.application_cursor_keys) == ((2, 0), "hi", True)


def test_palette_colour_is_xterms():
    assert [palette_colour(n) for n in (1, 12, 16, 208, 231, 232, 255)] == [
        *("#cd0000", "#5c5cff", "#000000", "#ff8700", "#ffffff", "#080808", "#eeeeee"),
    ]


def _emulated(text: str) -> StyledScreen:
    emulator = Emulator(20, 3)
    emulator.feed(text)
    return clive_screen(emulator.cells(), emulator.cursor, alternate_on=False, title="")


def test_clive_screen_reads_colours_and_attributes():
    screen = _emulated("\x1b[3;4;9;95;48;2;1;2;3mx\x1b[0m日")
    assert screen.rows[0] == (
        Run("x", Style(fg="13", bg="#010203", italic=True, underline=True, strike=True)),
        Run("日", Style()),
    )
    assert screen.cursor == (3, 0)


def test_blanks_compare_by_what_shows():
    # Bold on a blank does not show; the background does, and at the end of a row it is left
    # out (tmux's capture stops at the last character written).
    bold_blank, plain_blank = _emulated("\x1b[1;44m \x1b[22mx"), _emulated("\x1b[44m x")
    assert compare_styled_screens(bold_blank, plain_blank) is None
    assert _emulated("x\x1b[44m   ").rows[0] == (Run("x", Style()),)
    assert _emulated("\x1b[4m  x").rows[0] == (Run("  x", Style(underline=True)),)


def test_compare_styled_screens_names_what_differs():
    expected = _emulated("ab\x1b[31mcd\x1b[?25l")
    actual = _emulated("ab\x1b[32mcd")
    assert compare_styled_screens(expected, actual).splitlines() == [
        "cursor_visible: tmux False, clive True",
        "style of row 0, character 2 'c' (2 differ): tmux fg=1, clive fg=2",
    ]
    assert compare_styled_screens(expected, actual, styles=False) is None
