"""`encode_keys` turns tmux key names into exactly the bytes tmux 3.3a sends to a program."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tmux_reference import TmuxPane

from clive.terminal.keys import UnknownKeyError, encode_keys, key_names

TABLE = [
    ("Enter", b"\r"),
    ("Escape", b"\x1b"),
    ("Tab", b"\t"),
    ("BTab", b"\x1b[Z"),
    ("Space", b" "),
    ("BSpace", b"\x7f"),
    ("Up", b"\x1b[A"),
    ("Down", b"\x1b[B"),
    ("Right", b"\x1b[C"),
    ("Left", b"\x1b[D"),
    ("Home", b"\x1b[1~"),
    ("End", b"\x1b[4~"),
    ("PageUp", b"\x1b[5~"),
    ("PgUp", b"\x1b[5~"),
    ("PPage", b"\x1b[5~"),
    ("PageDown", b"\x1b[6~"),
    ("PgDn", b"\x1b[6~"),
    ("NPage", b"\x1b[6~"),
    ("Insert", b"\x1b[2~"),
    ("IC", b"\x1b[2~"),
    ("Delete", b"\x1b[3~"),
    ("DC", b"\x1b[3~"),
    ("F1", b"\x1bOP"),
    ("F4", b"\x1bOS"),
    ("F5", b"\x1b[15~"),
    ("F12", b"\x1b[24~"),
    ("KP5", b"5"),
    ("KPEnter", b"\n"),
    ("C-a", b"\x01"),
    ("C-c", b"\x03"),
    ("C-z", b"\x1a"),
    ("C-Space", b"\x00"),
    ("C-@", b"\x00"),
    ("C-[", b"\x1b"),
    ("C-\\", b"\x1c"),
    ("C-_", b"\x1f"),
    ("C-?", b"\x7f"),
    ("C-2", b"\x00"),
    ("C-6", b"\x1e"),
    ("C-/", b"\x1f"),
    ("M-x", b"\x1bx"),
    ("M-Enter", b"\x1b\r"),
    ("M-BSpace", b"\x1b\x7f"),
    ("M-BTab", b"\x1b\x1b[Z"),
    ("C-M-a", b"\x1b\x01"),
    ("C-M-Space", b"\x1b\x00"),
    ("C-Up", b"\x1b[1;5A"),
    ("S-Up", b"\x1b[1;2A"),
    ("M-Up", b"\x1b[1;3A"),
    ("S-Left", b"\x1b[1;2D"),
    ("C-S-Right", b"\x1b[1;6C"),
    ("C-M-S-Down", b"\x1b[1;8B"),
    ("S-Home", b"\x1b[1;2H"),
    ("C-End", b"\x1b[1;5F"),
    ("M-PageUp", b"\x1b[5;3~"),
    ("C-Delete", b"\x1b[3;5~"),
    ("S-F1", b"\x1b[1;2P"),
    ("C-F5", b"\x1b[15;5~"),
    ("a", b"a"),
    ("/", b"/"),
    ("é", b"\xc3\xa9"),
    ("0x1b", b"\x1b"),
    ("0xe9", b"\xc3\xa9"),
]

# tmux sends nothing for these, or types their name as text.
UNSENDABLE = ["C-Enter", "C-Tab", "C-Escape", "C-BSpace", "C-1", "C-M-2", "C-{", "S-a", "S-Enter"]
UNSENDABLE += ["S-BSpace", "C-BTab", "S-KP1", "C-M-Enter", "C-S-a", "M-S-x"]


@pytest.mark.parametrize(("name", "expected"), TABLE)
def test_key_name_encodes_as_tmux_sends_it(name: str, expected: bytes) -> None:
    assert encode_keys(name) == expected


def test_application_cursor_mode_changes_only_the_unmodified_arrows() -> None:
    names = ["Up", "Down", "Right", "Left", "Home", "End", "C-Up", "S-Left"]
    expected = b"\x1bOA\x1bOB\x1bOC\x1bOD\x1b[1~\x1b[4~\x1b[1;5A\x1b[1;2D"
    assert encode_keys(names, app_cursor=True) == expected


def test_application_keypad_mode_changes_the_keypad_keys() -> None:
    assert encode_keys(["KP0", "KP/", "KPEnter", "M-KP7"], app_keypad=True) == (
        b"\x1bOp\x1bOo\x1bOM\x1b\x1bOw"
    )
    assert encode_keys(["0", "5", "Up"], app_keypad=True) == b"05\x1b[A"


def test_key_names_and_modifiers_ignore_case_but_characters_do_not() -> None:
    assert encode_keys(["enter", "ESCAPE", "pgup", "kpenter"]) == b"\r\x1b\x1b[5~\n"
    assert encode_keys(["c-a", "C-A", "m-UP", "s-c-Up"]) == b"\x01\x01\x1b[1;3A\x1b[1;6A"
    assert encode_keys(["M-x", "M-X"]) == b"\x1bx\x1bX"


def test_caret_is_control() -> None:
    assert encode_keys(["^C", "^a", "^[", "^?", "^"]) == b"\x03\x01\x1b\x7f^"


def test_control_and_shift_are_ignored_beyond_ascii_as_in_tmux() -> None:
    assert (
        encode_keys(["C-é", "S-é", "M-é", "C-M-é"]) == b"\xc3\xa9\xc3\xa9\x1b\xc3\xa9\x1b\xc3\xa9"
    )


def test_shift_tab_is_btab_though_tmux_3_3a_types_it_as_text() -> None:
    assert encode_keys("S-Tab") == encode_keys("BTab") == b"\x1b[Z"


def test_a_list_is_sent_in_order() -> None:
    assert encode_keys(["Escape", ":", "q", "!", "Enter"]) == b"\x1b:q!\r"
    assert encode_keys(("C-a", "k")) == b"\x01k"


def test_an_empty_list_sends_nothing() -> None:
    assert encode_keys([]) == b""


@given(st.characters(blacklist_categories=("Cs",)))
def test_a_single_character_is_sent_as_itself(character: str) -> None:
    assert encode_keys(character) == character.encode()


@given(st.lists(st.sampled_from([name for name, _ in TABLE])))
def test_a_list_encodes_as_its_names_one_after_another(names: list[str]) -> None:
    assert encode_keys(names) == b"".join(encode_keys(name) for name in names)


def test_key_names_reads_the_bytes_back_as_the_keys_that_sent_them() -> None:
    names = ["l", "s", "Enter", "C-c", "Tab", "BSpace", "Up", "C-Up", "S-F5", "C-M-S-Left", "M-x"]
    names += ["M-Up", "BTab", "PPage", "DC", "C-Space", "C-\\", "é", " ", "Escape"]
    typed = encode_keys(names).decode()
    assert [name for _, name in key_names(typed)] == names
    assert "".join(key for key, _ in key_names(typed)) == typed
    assert [name for _, name in key_names(encode_keys("Up", app_cursor=True).decode())] == ["Up"]
    assert key_names("\x1b[99~") == [("\x1b[99~", "\\x1b[99~")]  # no key sends it


def test_a_string_with_spaces_is_one_name_not_split() -> None:
    with pytest.raises(UnknownKeyError, match="never split on spaces"):
        encode_keys("C-c Enter")


def test_unknown_name_suggests_the_closest_key() -> None:
    with pytest.raises(UnknownKeyError) as caught:
        encode_keys("Entr")
    assert caught.value.key == "Entr"
    assert caught.value.suggestions[0] == "Enter"
    assert "'Enter'" in str(caught.value)
    assert "tmux key names: Enter, Escape, Tab, BSpace, Up, C-c, M-x, F1 ..." in str(caught.value)


def test_suggestions_keep_the_modifiers() -> None:
    with pytest.raises(UnknownKeyError) as caught:
        encode_keys("M-Entr")
    assert caught.value.suggestions[0] == "M-Enter"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("ctrl+c", "C-c"), ("Ctrl-Shift-Up", "C-S-Up"), ("Alt+x", "M-x"), ("Return", "Enter")],
)
def test_other_programs_spellings_suggest_tmux_names(name: str, suggestion: str) -> None:
    with pytest.raises(UnknownKeyError) as caught:
        encode_keys(name)
    assert caught.value.suggestions[0] == suggestion


def test_unknown_key_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown key 'F13'"):
        encode_keys("F13")


@pytest.mark.parametrize("name", ["", "C-", "M-S-", "a-b", "Up Up", "0x110000", "C-0x41", "None"])
def test_malformed_names_are_unknown(name: str) -> None:
    with pytest.raises(UnknownKeyError):
        encode_keys(name)


@pytest.mark.parametrize("name", UNSENDABLE)
def test_combinations_tmux_cannot_send_are_refused(name: str) -> None:
    with pytest.raises(UnknownKeyError, match="has no code"):
        encode_keys(name)


# --- Against a real tmux ------------------------------------------------------------------------

# What the program in the pane records: it puts its terminal in raw mode, switches the modes named
# on its command line, and creates the output file only once tmux has answered a cursor position
# query, which tmux does after applying everything written before it.
DUMP_PROGRAM = """\
import os, sys, tty
tty.setraw(0)
modes = {"app_cursor": b"\\x1b[?1h", "app_keypad": b"\\x1b="}
os.write(1, b"".join(modes[mode] for mode in sys.argv[2:]) + b"\\x1b[6n")
reply = b""
while not reply.endswith(b"R"):
    reply += os.read(0, 1)
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
while data := os.read(0, 4096):
    os.write(out, data)
"""
# Sent after every key to split what the program read; no key tested here sends its bytes.
MARKER = "¶"
# Names per send-keys command, well under tmux's limit on a command's length.
CHUNK = 100
TIMEOUT = 10

REPRESENTATIVE = {
    "normal": [
        *(name for name, _ in TABLE),
        *("M-Escape", "KP/", "M-KP5", "c-a", "m-Up", "enter", "^C", "C-M-S-F12", "€"),
    ],
    "app_cursor": [
        *("Up", "Down", "Left", "Right", "Home", "End", "C-Up", "S-Left", "M-Right"),
        *("F1", "PageUp", "KP1"),
    ],
    "app_keypad": ["KP0", "KP5", "KP/", "KP*", "KP-", "KP+", "KP.", "KPEnter", "M-KP7", "5", "Up"],
}
MODIFIER_PREFIXES = ["", "C-", "M-", "S-", "C-M-", "C-S-", "M-S-", "C-M-S-"]
BASE_KEYS = ["Enter", "Escape", "Tab", "BTab", "Space", "BSpace", "Up", "Down", "Left", "Right"]
BASE_KEYS += ["Home", "End", "PPage", "NPage", "IC", "DC", *(f"F{n}" for n in range(1, 13))]
BASE_KEYS += ["KP/", "KP*", "KP-", "KP+", "KP.", "KPEnter", *(f"KP{n}" for n in range(10))]
BASE_KEYS += [chr(code) for code in range(0x21, 0x7F)] + ["é", "ß", "€", "😀"]


@pytest.fixture
def received_by_program(
    tmux_pane: Callable[..., TmuxPane], tmp_path: Path
) -> Callable[[Sequence[str], str], dict[str, bytes]]:
    """Press names in a tmux pane (in "normal", "app_cursor" or "app_keypad" mode) and return
    what the program there read for each; the pane's tmux server stops with the test."""

    def press(names: Sequence[str], mode: str) -> dict[str, bytes]:
        program, out = tmp_path / f"dump-{mode}.py", tmp_path / f"keys-{mode}"
        program.write_text(DUMP_PROGRAM)
        modes = [] if mode == "normal" else [mode]
        pane = tmux_pane(command=shlex.join([sys.executable, str(program), str(out), *modes]))
        _wait_until(out.exists, f"the program in the pane did not start ({mode})")
        for start in range(0, len(names), CHUNK):
            pane.send_keys(
                *(key for name in names[start : start + CHUNK] for key in (name, MARKER))
            )
        marker = MARKER.encode()
        _wait_until(
            lambda: out.read_bytes().count(marker) >= len(names),
            f"the program did not read all {len(names)} keys",
        )
        return dict(zip(names, out.read_bytes().split(marker)[:-1], strict=True))

    return press


def _wait_until(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure} within {TIMEOUT}s")
        time.sleep(0.02)


def _encode(name: str, mode: str) -> bytes:
    return encode_keys(name, app_cursor=mode == "app_cursor", app_keypad=mode == "app_keypad")


@pytest.mark.tmux
@pytest.mark.parametrize("mode", REPRESENTATIVE)
def test_representative_keys_match_tmux(
    received_by_program: Callable[[Sequence[str], str], dict[str, bytes]], mode: str
) -> None:
    names = REPRESENTATIVE[mode]
    assert {name: _encode(name, mode) for name in names} == received_by_program(names, mode)


@pytest.mark.tmux
def test_refused_combinations_are_those_tmux_cannot_send(
    received_by_program: Callable[[Sequence[str], str], dict[str, bytes]],
) -> None:
    received = received_by_program(UNSENDABLE, "normal")
    assert {name: data for name, data in received.items() if data not in (b"", name.encode())} == {}


@pytest.mark.tmux
@pytest.mark.parametrize("mode", ["normal", "app_cursor", "app_keypad"])
def test_every_modifier_combination_matches_tmux(
    received_by_program: Callable[[Sequence[str], str], dict[str, bytes]], mode: str
) -> None:
    names = [prefix + key for prefix in MODIFIER_PREFIXES for key in BASE_KEYS]
    names.remove("S-Tab")  # tmux 3.3a types it as text; encode_keys sends BTab
    received = received_by_program(names, mode)
    differences = {}
    for name in names:
        try:
            expected = _encode(name, mode)
        except UnknownKeyError:
            # Refused: tmux must send nothing for it, or type the name as text.
            if received[name] not in (b"", name.encode()):
                differences[name] = ("refused", received[name])
            continue
        if expected != received[name]:
            differences[name] = (expected, received[name])
    assert differences == {}
