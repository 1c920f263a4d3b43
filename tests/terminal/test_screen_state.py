"""A saved and restored emulator goes on exactly as the original: replay's keyframes rely on it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

from clive.terminal._screen_state import restore_state, save_state
from clive.terminal.emulator import Emulator

# Pieces of output that leave state behind them: colours, modes, margins, character sets,
# saved cursors, tab stops, the alternate screen, titles, wide and joined characters.
PIECES = [
    "plain text ",
    "\r\n",
    "\x1b[1;31mbold red\x1b[0m",
    "\x1b[38;5;202;48;2;1;2;3mcolours",
    "\x1b[7mreverse",
    "\x1b[3;9;5;4m",
    "\x1b[m",
    "\x1b[2;6r",
    "\x1b[r",
    "\x1b[?6h",
    "\x1b[?6l",
    "\x1b[?7l",
    "\x1b[?7h",
    "\x1b[4h",
    "\x1b[4l",
    "\x1b[?25l",
    "\x1b[?25h",
    "\x1b[?1h",
    "\x1b[?2004h",
    "\x1b(0lqqk\x1b(B",
    "\x1b)0\x0eqq",
    "\x0f",
    "\x1b7",
    "\x1b8",
    "\x1b[s",
    "\x1b[u",
    "\x1bH",
    "\x1b[3g",
    "\tx\ty",
    "\x1b[?1049h",
    "\x1b[?1049l",
    "\x1b[?47h",
    "\x1b[?47l",
    "\x1b]0;a title\x07",
    "\x1b]2;other\x1b\\",
    "中文",
    "e\u0301",
    "👨\u200d👩\u200d👧",
    "x\x1b[3b",
    "\x1b[5;10H",
    "\x1b[2J",
    "\x1b[K",
    "\x1b[2S",
    "\x1b[T",
    "\x1b[3@",
    "\x1b[2P",
    "\n" * 7,
    "a long line that wraps around the narrow screen more than once, " * 2,
]


def _state_of(emulator: Emulator) -> tuple:
    return (
        emulator.cells(),
        emulator.cursor,
        emulator.alt_screen,
        emulator.app_cursor_keys,
        emulator.bracketed_paste,
        emulator.title,
    )


@settings(max_examples=examples(300), deadline=None)
@given(
    before=st.lists(st.sampled_from(PIECES), max_size=25),
    after=st.lists(st.sampled_from(PIECES), max_size=25),
    cut=st.integers(min_value=0, max_value=20),
)
def test_a_restored_emulator_goes_on_exactly_as_the_original(before, after, cut):
    original = Emulator(30, 8)
    head = "".join(before)
    # End the first part inside a sequence now and then: it is held back, and kept.
    head, carried = head[: len(head) - cut], head[len(head) - cut :]
    original.feed(head)
    state = save_state(original)
    assert state is not None
    restored = restore_state(state)
    assert _state_of(restored) == _state_of(original)
    rest = carried + "".join(after)
    original.feed(rest)
    restored.feed(rest)
    assert _state_of(restored) == _state_of(original)


def test_a_state_saved_inside_a_long_string_goes_on_as_the_original():
    original = Emulator(20, 5)
    original.feed("\x1b]0;" + "x" * 70000)
    restored = restore_state(save_state(original))
    for emulator in (original, restored):
        emulator.feed("\x07done")
    assert _state_of(restored) == _state_of(original)
    assert restored.lines()[0] == "done"


@pytest.mark.parametrize("text", ["not json", "{}", '{"version": 1}', "[]", '{"version": 99}'])
def test_a_state_from_elsewhere_is_refused_with_a_value_error(text):
    with pytest.raises(ValueError):
        restore_state(text)
