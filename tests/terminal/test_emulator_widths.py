"""The emulator's shortcut for character widths agrees with wcwidth, which draw() uses."""

from wcwidth import wcwidth

from clive.terminal.emulator import SURELY_NARROW_RANGES, Emulator


def test_surely_narrow_characters_are_one_column_for_wcwidth():
    wide_or_zero = [
        hex(code)
        for first, last in SURELY_NARROW_RANGES
        for code in range(first, last + 1)
        if wcwidth(chr(code)) != 1
    ]
    assert wide_or_zero == []


def test_progress_bar_redraws_with_block_characters_leave_the_last_state():
    bars = "".join(f"\r{i:3d}% |{'█' * (i // 10)}{' ' * (10 - i // 10)}|" for i in range(101))
    fast, slow = Emulator(30, 3), Emulator(30, 3)
    fast.feed(bars)
    for char in bars:
        slow.feed(char)
    assert fast.lines() == slow.lines() == ["100% |██████████|", "", ""]
    assert fast.cursor == slow.cursor
