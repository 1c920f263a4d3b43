"""The line being typed, followed key by key: what each submitting key hands over."""

from __future__ import annotations

import pytest

from clive.agent.input_line import InputLine, keystrokes, screen_line, submits
from clive.session.writer import SECRET_INPUT
from clive.terminal import Cursor, ScreenState, Snapshot


def _typed(*writes: str, secret: bool = False) -> tuple[list, InputLine]:
    """Feed each string as one write; the submissions, and the line after them."""
    line = InputLine()
    submissions = []
    for write in writes:
        submissions += line.feed(write, secret=secret)
    return submissions, line


def _keys(*names: str) -> str:
    return keystrokes(list(names))


def test_a_command_pressed_key_by_key_is_submitted_whole():
    (submission,), line = _typed(_keys(*"rm -rf /", "Enter"))
    assert submission.text == "rm -rf /" and submission.known and not submission.secret
    assert line.empty


def test_one_key_per_write_then_enter_later_is_one_line():
    submissions, _ = _typed(*"touch pwned")
    assert submissions == []
    (submission,), _ = _typed(*"touch pwned", _keys("Enter"))
    assert submission.text == "touch pwned"


def test_text_split_over_writes_and_enter_in_another_write_is_one_line():
    (submission,), _ = _typed("rm -r", "f /", _keys("Enter"))
    assert submission.text == "rm -rf /"


@pytest.mark.parametrize("enter", ["Enter", "C-m", "C-j", "KPEnter", "0x0d"])
def test_every_spelling_of_enter_submits(enter):
    (submission,), _ = _typed("ls -la", _keys(enter))
    assert submission.text == "ls -la"


@pytest.mark.parametrize(
    ("writes", "line"),
    [
        (["touch pwXned", _keys("Left", "Left", "Left", "BSpace")], "touch pwned"),
        (["echo safe", _keys("C-u"), "rm -rf /"], "rm -rf /"),
        (["echo hello world", _keys("C-w"), "there"], "echo hello there"),
        (["rm -rf /tmp/x", _keys("C-a", "Right", "Right", "C-k"), " -rf /"], "rm -rf /"),
        (["xrm -rf /", _keys("Home", "DC")], "rm -rf /"),
        (["echo a", _keys("C-c"), "reboot"], "reboot"),
        (["abc", _keys("C-b", "C-b", "C-d", "End"), "d"], "acd"),
    ],
)
def test_simple_editing_keys_are_applied_as_readline_does(writes, line):
    submissions, _ = _typed(*writes, "\r")
    assert submissions[-1].known and submissions[-1].text == line


def test_a_bracketed_paste_is_one_line_whatever_its_line_ends():
    paste = "\x1b[200~echo one\rtouch pwned\x1b[201~"
    submissions, _ = _typed(paste)
    # The line discipline knows nothing of pastes: its reading submits at the line end.
    assert [s.text for s in submissions] == ["\x1b[200~echo one"]
    submissions, _ = _typed(paste, "\r")
    assert submissions[-1].text == "echo one\ntouch pwned" and submissions[-1].known


def test_a_backslash_line_end_continues_the_line():
    submissions, _ = _typed("rm -r\\\r", "f /\r")
    assert submissions[-1].text == "rm -r\\\nf /"


@pytest.mark.parametrize("key", ["Up", "Down", "Tab", "C-r", "C-y", "M-.", "Escape", "C-Left"])
def test_keys_clive_cannot_follow_make_the_line_unknown(key):
    _, line = _typed("ls ", _keys(key))
    assert not line.known and not line.empty
    submissions, _ = _typed("ls ", _keys(key), "\r")
    readline = next(s for s in submissions if not s.known)
    assert readline.text.startswith("ls ")  # a best effort, still judged


def test_an_unknown_line_is_known_again_once_cleared():
    _, line = _typed("abc", _keys("Up"))
    assert not line.known
    _, line = _typed("abc", _keys("Up"), _keys("C-e", "C-u"))
    assert line.known and line.empty
    _, line = _typed("abc", _keys("Up"), _keys("C-u"))
    assert not line.known, "C-u kills back from a cursor clive does not know"
    _, line = _typed("abc", _keys("Up"), _keys("C-c"))
    assert line.known and line.empty


def test_a_line_typed_without_echo_is_secret_and_shown_as_such():
    (submission,), _ = _typed("touch pwned", "\r", secret=True)
    assert submission.secret and submission.shown == SECRET_INPUT
    assert submission.text == "touch pwned"  # judged all the same


def test_the_line_discipline_hands_over_the_line_at_c_d_and_reads_on():
    submissions, _ = _typed("touch pw", _keys("C-d"), "ned", _keys("C-d"), secret=True)
    assert [s.text for s in submissions] == ["touch pw", "touch pwned"]


def test_control_keys_are_characters_to_the_line_discipline():
    # C-a moves readline's cursor; `read` keeps it in the line, so the command is intact.
    submissions, _ = _typed("rm -rf / ;", _keys("C-a"), "x", "\r")
    readings = {reading for s in submissions for reading in s.readings}
    assert "xrm -rf / ;" in readings and "rm -rf / ;\x01x" in readings


def test_each_later_write_is_a_reading_so_keys_eaten_by_a_pager_hide_nothing():
    (submission,), _ = _typed("q", "sudo ls", "\r")
    assert submission.text == "qsudo ls" and "sudo ls" in submission.readings
    (submission,), _ = _typed("git status", "\r")
    assert submission.readings == ("git status",)


def test_a_copy_is_independent():
    line = InputLine()
    line.feed("rm -rf")
    simulated = line.copy()
    assert simulated.feed(" /\r")[0].text == "rm -rf /"
    assert line.current().text == "rm -rf"


def test_submits_names_the_keys_that_hand_a_line_over():
    assert all(submits(_keys(k)) for k in ["Enter", "C-j", "C-d", "C-o", "M-Enter"])
    assert not any(submits(_keys(k)) for k in ["a", "Up", "C-u", "Tab"])


def _snapshot(lines: list[str], x: int, y: int, cols: int = 20) -> Snapshot:
    rows = [*lines, *[""] * (5 - len(lines))]
    return Snapshot(rows, Cursor(x, y), False, ScreenState.PROMPT, None, "", cols, 5)


def test_the_screen_line_is_the_cursor_row_after_the_prompt():
    snapshot = _snapshot(["old output", "me@box:~$ reboot now"], 20, 1, cols=40)
    assert screen_line(snapshot) == "reboot now"
    assert screen_line(_snapshot([">>> import os"], 13, 0)) == "import os"
    assert screen_line(_snapshot(["no prompt sign"], 3, 0)) == "no prompt sign"


def test_the_screen_line_joins_the_rows_it_wraps_from():
    snapshot = _snapshot(["short row", "me@box:~$ rm -rf /us", "r/lib"], 5, 2)
    assert screen_line(snapshot) == "rm -rf /usr/lib"
    # A wrapped row's last cell may be a space, which the row's text leaves out.
    snapshot = _snapshot(["me@box:~$ rm -rf", "/usr"], 4, 1, cols=17)
    assert screen_line(snapshot) == "rm -rf /usr"
