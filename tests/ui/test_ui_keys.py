"""Keys pressed in the UI reach the shell as tmux would send them."""

from __future__ import annotations

import pytest

from clive.terminal.keys import encode_keys
from clive.ui._keys import tmux_key


@pytest.mark.parametrize(
    ("key", "character", "sent"),
    [
        ("a", "a", b"a"),
        ("A", "A", b"A"),
        ("é", "é", "é".encode()),
        ("enter", "\r", b"\r"),
        ("ctrl+c", "\x03", b"\x03"),
        ("ctrl+d", "\x04", b"\x04"),
        ("ctrl+left_square_bracket", "\x1b", b"\x1b"),
        ("escape", "\x1b", b"\x1b"),
        ("backspace", "\x7f", b"\x7f"),
        ("tab", "\t", b"\t"),
        ("shift+tab", None, b"\x1b[Z"),
        ("up", None, b"\x1b[A"),
        ("pageup", None, b"\x1b[5~"),
        ("delete", None, b"\x1b[3~"),
        ("f5", None, b"\x1b[15~"),
        ("alt+b", None, b"\x1bb"),
        ("ctrl+up", None, b"\x1b[1;5A"),
        ("space", " ", b" "),
    ],
)
def test_a_key_reaches_the_shell_as_tmux_sends_it(key, character, sent):
    assert encode_keys(tmux_key(key, character)) == sent


def test_a_key_the_terminal_has_not_is_none():
    assert tmux_key("hyper+x", None) is None
