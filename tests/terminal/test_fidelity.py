"""What clive sees is what a terminal shows: the same keystrokes in tmux and in Terminal.

Each test drives a real program in a real tmux pane (the reference) and in clive's Terminal at the
same size, with the same TERM, prompt, files and environment, and compares the screen text and
the cursor at several checkpoints.
"""

from __future__ import annotations

import subprocess
import textwrap

import pytest
from tmux_reference import FIXED_GIT_IDENTITY, Pair, compare_screens

pytestmark = pytest.mark.tmux

CURSES_PROGRAM = textwrap.dedent(
    """
    import curses

    def main(stdscr):
        curses.curs_set(0)
        stdscr.box()
        stdscr.addstr(2, 3, "hello from curses")
        stdscr.addstr(4, 3, "press a key", curses.A_BOLD)
        stdscr.refresh()
        stdscr.getch()

    curses.wrapper(main)
    print("curses done")
    """
)


@pytest.fixture
def pair(tmux_pane, tmp_path):
    both = Pair(tmux_pane, tmp_path)
    yield both
    both.close()


def test_vim_edit_and_quit_restores_the_main_screen(pair):
    pair.write("notes.txt", "first line\nsecond line\n")
    pair.line("echo before vim")
    before = pair.compare("before vim")
    pair.line("vim -u NONE -i NONE notes.txt")
    pair.compare("second line")
    assert pair.term.snapshot().alt_screen and pair.tmux.alternate_on()
    pair.keys("G", "o")
    pair.tmux.send_text("added by the test")
    pair.term.send_text("added by the test")
    pair.keys("Escape")
    pair.compare("added by the test")
    pair.keys(":", "w", "q", "Enter")
    after = pair.compare(r"\$ vim -u NONE -i NONE notes.txt\n\$")
    assert not pair.term.snapshot().alt_screen
    assert after[:2] == before[:2]
    for directory in pair.dirs.values():
        assert (directory / "notes.txt").read_text().endswith("added by the test\n")


def test_less_pages_through_a_file(pair):
    pair.write("data.txt", "".join(f"row {i:03d} of the data file\n" for i in range(200)))
    pair.line("less data.txt")
    pair.compare("row 000")
    pair.keys("Space")
    pair.compare("row 04[0-9]")
    pair.keys("G")
    pair.compare("row 199")
    pair.keys("q")
    pair.compare(r"\$ less data.txt")


def test_man_page_through_less(pair):
    pair.line("man ls")
    pair.compare("NAME")
    pair.keys("q")
    pair.compare(r"\$ man ls")


def test_python_repl(pair):
    pair.line("python3 -q")
    pair.compare(">>>")
    pair.line("print('héllo', 6 * 7)")
    pair.compare("héllo 42")
    pair.line("for i in range(3):")
    pair.line("    print(i)")
    pair.line("")
    pair.compare(r"^2\n>>>")
    pair.keys("C-d")
    pair.compare(r"\$ python3 -q")


def test_git_log_through_a_pager(pair):
    for directory in pair.dirs.values():
        env = {**FIXED_GIT_IDENTITY, "PATH": "/usr/bin:/bin", "HOME": str(directory)}
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=directory, check=True, env=env)
        for i in range(12):
            (directory / "file.txt").write_text(f"version {i}\n")
            subprocess.run(["git", "add", "."], cwd=directory, check=True, env=env)
            subprocess.run(
                ["git", "commit", "-q", "-m", f"change number {i}"],
                cwd=directory,
                check=True,
                env=env,
            )
    pair.line("git log")
    pair.compare("change number 11")
    pair.keys("q")
    pair.compare(r"\$ git log")


# tmux's capture-pane prints cells drawn in the DEC line-drawing set as their VT100 letters
# (lqqk), while tmux and clive both show boxes (┌──┐): map clive's back to compare.
_AS_VT100_LETTERS = str.maketrans("┌─┐│└┘", "lqkxmj")


def test_curses_program(pair):
    pair.write("box.py", CURSES_PROGRAM)
    pair.line("python3 box.py")
    pair.tmux.wait_for_text("hello from curses")
    reference = pair.tmux.wait_stable(quiet=0.3)
    pair.term.wait(quiet=0.3, timeout=10)
    screen = [line.translate(_AS_VT100_LETTERS) for line in pair.term.snapshot().lines]
    assert compare_screens(reference, screen) is None, compare_screens(reference, screen)
    assert pair.term.snapshot().lines[0].startswith("┌──")
    pair.keys("x")
    pair.compare("curses done")


def test_carriage_return_progress_bar(pair):
    pair.write(
        "bar.py",
        "import sys\n"
        "for i in range(0, 101):\n"
        "    sys.stdout.write('\\r%3d%% |%s%s|' % (i, '█' * (i // 5), ' ' * (20 - i // 5)))\n"
        "sys.stdout.write('\\ndone\\n')\n",
    )
    pair.line("python3 bar.py")
    pair.compare("done")


def test_colours_and_attributes(pair):
    pair.line(r"printf '\e[31mred\e[0m \e[1;44mbold on blue\e[0m \e[38;5;208morange\e[0m\n'")
    pair.compare("orange")
    cells = pair.term.screen_cells()
    row = next(y for y, line in enumerate(pair.term.snapshot().lines) if line.startswith("red"))
    assert cells[row][0].fg == "red"
    assert cells[row][4].bold and cells[row][4].bg == "blue"


def test_long_lines_wrap(pair):
    pair.line("python3 -c \"print('x' * 200 + 'END')\"")
    pair.compare("END")


def test_clear(pair):
    pair.line("seq 1 50; clear; echo after clear")
    pair.compare("after clear")


def test_resize(pair):
    pair.tmux.resize(100, 30)
    pair.term.resize(100, 30)
    pair.line("clear; tput cols; tput lines")
    pair.compare(r"100\n30")


def test_emoji_and_cjk(pair):
    pair.line("printf '😀 日本語 👨\\u200d👩\\u200d👧 ❤\\ufe0f end\\n'")
    pair.compare("end")


def test_cursor_position_query_is_answered(pair):
    pair.line("IFS='[;' read -rs -t 5 -d R -p $'\\e[6n' _ row col; echo \"at $row $col\"")
    pair.compare("at [0-9]+ [0-9]+")
