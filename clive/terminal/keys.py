"""tmux key names to the bytes a program reads when that key is pressed, and back.

    encode_keys("C-c")                          # b"\\x03"
    encode_keys(["Escape", ":", "q", "Enter"])  # b"\\x1b:q\\r"
    encode_keys("Up", app_cursor=True)          # b"\\x1bOA"
    key_names("ls\\r")                          # [("l", "l"), ("s", "s"), ("\\r", "Enter")]

The bytes are those tmux 3.3a writes to the program in its pane for `tmux send-keys NAME`, with
tmux's default options; each table below was checked against a real tmux by
tests/terminal/test_keys.py. The names are tmux's (`man tmux`, KEY BINDINGS):

- one character, sent as itself in UTF-8: `a`, `/`, `é`;
- Enter, Escape, Tab, BTab, Space, BSpace, Up, Down, Left, Right, Home, End, PPage (PageUp,
  PgUp), NPage (PageDown, PgDn), IC (Insert), DC (Delete), F1 to F12, and the keypad's KP0 to
  KP9, KP/, KP*, KP-, KP+, KP. and KPEnter; these names are case-insensitive (`enter`, `pgup`);
- any of those after modifiers `C-`, `M-`, `S-` in any order and case (`C-M-a`, `s-Up`), or after
  `^` for control (`^C`);
- a character by its code in hexadecimal, without modifiers: `0x1b`, `0xe9`.

A name is one key: "C-c Enter" is not split on its space but refused. Where tmux surprises:

- Home and End are `ESC [ 1 ~` and `ESC [ 4 ~`, in application cursor mode too: DECCKM changes
  only the four unmodified arrows.
- C- gives a control byte for a letter and for `@ [ \\ ] ^ _ ? Space`, and among digits and
  punctuation only for `2` (NUL), `6` (RS), `-` and `/` (US). S- works only on the keys that have
  an xterm modified form (arrows, Home, End, PPage, NPage, IC, DC, F1-F12); BSpace, BTab and the
  keypad take M- alone. tmux sends nothing, or types the name as text, for any other combination
  (C-Enter, C-1, S-a); `encode_keys` raises `UnknownKeyError` instead.
- C- and S- on a character beyond ASCII are ignored (`C-é` is `é`); M- still prefixes ESC.
- One deliberate difference: tmux 3.3a types "S-Tab" as text; here it is BTab, as Shift-Tab is
  in every terminal.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from enum import IntFlag


class UnknownKeyError(ValueError):
    """A key name that cannot be sent: not a tmux key name, or a combination with no code.

    `key` is the name as given, `suggestions` the close names that can be sent (maybe none).
    """

    def __init__(self, key: str, reason: str, suggestions: Sequence[str] = ()) -> None:
        self.key = key
        self.suggestions = list(suggestions)
        hint = f" Did you mean {', '.join(map(repr, self.suggestions))}?" if suggestions else ""
        super().__init__(f"{reason}.{hint} {_WHERE_NAMES_COME_FROM}")


class _Modifier(IntFlag):
    # The values are xterm's: a modified key's parameter is 1 + the sum of its modifiers.
    SHIFT = 1
    META = 2
    CTRL = 4


_WHERE_NAMES_COME_FROM = (
    "Keys are one character or tmux key names: Enter, Escape, Tab, BSpace, Up, C-c, M-x, F1 ... "
    "(man tmux, KEY BINDINGS)."
)

# Names that stand for a character: with modifiers they behave exactly as that character.
_CHARACTER_KEYS = {"Enter": "\r", "Escape": "\x1b", "Tab": "\t", "Space": " "}

# Every other key, unmodified.
_PLAIN = {
    "BSpace": "\x7f",
    "BTab": "\x1b[Z",
    "Up": "\x1b[A",
    "Down": "\x1b[B",
    "Right": "\x1b[C",
    "Left": "\x1b[D",
    "Home": "\x1b[1~",
    "End": "\x1b[4~",
    "IC": "\x1b[2~",
    "DC": "\x1b[3~",
    "PPage": "\x1b[5~",
    "NPage": "\x1b[6~",
    "F1": "\x1bOP",
    "F2": "\x1bOQ",
    "F3": "\x1bOR",
    "F4": "\x1bOS",
    "F5": "\x1b[15~",
    "F6": "\x1b[17~",
    "F7": "\x1b[18~",
    "F8": "\x1b[19~",
    "F9": "\x1b[20~",
    "F10": "\x1b[21~",
    "F11": "\x1b[23~",
    "F12": "\x1b[24~",
    "KP0": "0",
    "KP1": "1",
    "KP2": "2",
    "KP3": "3",
    "KP4": "4",
    "KP5": "5",
    "KP6": "6",
    "KP7": "7",
    "KP8": "8",
    "KP9": "9",
    "KP/": "/",
    "KP*": "*",
    "KP-": "-",
    "KP+": "+",
    "KP.": ".",
    "KPEnter": "\n",
}

# In application cursor mode (DECCKM, `ESC [ ? 1 h`).
_APP_CURSOR = {"Up": "\x1bOA", "Down": "\x1bOB", "Right": "\x1bOC", "Left": "\x1bOD"}

# In application keypad mode (DECKPAM, `ESC =`).
_APP_KEYPAD = {
    "KP0": "\x1bOp",
    "KP1": "\x1bOq",
    "KP2": "\x1bOr",
    "KP3": "\x1bOs",
    "KP4": "\x1bOt",
    "KP5": "\x1bOu",
    "KP6": "\x1bOv",
    "KP7": "\x1bOw",
    "KP8": "\x1bOx",
    "KP9": "\x1bOy",
    "KP/": "\x1bOo",
    "KP*": "\x1bOj",
    "KP-": "\x1bOm",
    "KP+": "\x1bOk",
    "KP.": "\x1bOn",
    "KPEnter": "\x1bOM",
}

# With any modifier, xterm's form: {} is the modifier parameter (2 for S-, 3 M-, 5 C-, 6 C-S-...),
# whatever the cursor mode. The keys of _PLAIN missing here take M- alone, as an ESC prefix.
_MODIFIED = {
    "Up": "\x1b[1;{}A",
    "Down": "\x1b[1;{}B",
    "Right": "\x1b[1;{}C",
    "Left": "\x1b[1;{}D",
    "Home": "\x1b[1;{}H",
    "End": "\x1b[1;{}F",
    "IC": "\x1b[2;{}~",
    "DC": "\x1b[3;{}~",
    "PPage": "\x1b[5;{}~",
    "NPage": "\x1b[6;{}~",
    "F1": "\x1b[1;{}P",
    "F2": "\x1b[1;{}Q",
    "F3": "\x1b[1;{}R",
    "F4": "\x1b[1;{}S",
    "F5": "\x1b[15;{}~",
    "F6": "\x1b[17;{}~",
    "F7": "\x1b[18;{}~",
    "F8": "\x1b[19;{}~",
    "F9": "\x1b[20;{}~",
    "F10": "\x1b[21;{}~",
    "F11": "\x1b[23;{}~",
    "F12": "\x1b[24;{}~",
}

_ALIASES = {
    "PageUp": "PPage",
    "PgUp": "PPage",
    "PageDown": "NPage",
    "PgDn": "NPage",
    "Insert": "IC",
    "Delete": "DC",
}

_NAMES = [*_CHARACTER_KEYS, *_PLAIN, *_ALIASES]
_CANONICAL = {name.lower(): _ALIASES.get(name, name) for name in _NAMES}

# C- turns these characters into a control byte, with or without M-.
_CONTROL_CODES = {chr(code): chr(code - 64) for code in range(ord("@"), ord("_") + 1)}
_CONTROL_CODES |= {chr(code): chr(code - 96) for code in range(ord("a"), ord("z") + 1)}
_CONTROL_CODES |= {" ": "\x00", "?": "\x7f"}
# ... and with these only when C- is the sole modifier (tmux types "C-M-2" as text).
_CONTROL_DIGITS = {"2": "\x00", "6": "\x1e", "-": "\x1f", "/": "\x1f"}

# tmux also takes "0x41zz" as 0x41 (sscanf); that one is refused here.
_CHARACTER_CODE = re.compile(r"0x([0-9A-Fa-f]+)")
_MODIFIER_LETTERS = {"C": _Modifier.CTRL, "M": _Modifier.META, "S": _Modifier.SHIFT}
# tmux reads an initial ^ as C-, then any number of C-, M-, S- in either case.
_MODIFIER_PREFIX = re.compile(r"(\^(?=.))?((?:[CMScms]-)*)")
# How other programs spell modifiers and keys, for suggestions only.
_OTHER_MODIFIERS = re.compile(r"(?i)\b(ctrl|control|alt|meta|shift)[-+]")
_OTHER_MODIFIER_NAMES = {"ctrl": "C-", "control": "C-", "alt": "M-", "meta": "M-", "shift": "S-"}
_OTHER_KEY_NAMES = {"return": "Enter", "ret": "Enter", "backspace": "BSpace", "esc": "Escape"}


# One key as a program reads it: an escape sequence (CSI, SS3), Meta (an ESC) before a key, a
# lone ESC, or one character.
_ONE_KEY = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|\x1b(?:\[[0-?]*[ -/]*[@-~]|O.)?|.)?|.", re.DOTALL
)


def _sequence_names() -> dict[str, str]:
    """Every key's characters to its name, for the keys that are not a printable character."""
    names = {chr(code): f"C-{chr(code + 96)}" for code in range(1, 27)}
    names |= {"\x00": "C-Space", "\x1c": "C-\\", "\x1d": "C-]", "\x1e": "C-^", "\x1f": "C-_"}
    names |= {"\r": "Enter", "\t": "Tab", "\x1b": "Escape", "\x7f": "BSpace"}
    for table in (_PLAIN, _APP_CURSOR, _APP_KEYPAD):
        # The keypad's digits and operators type characters; KPEnter's LF stays C-j.
        names |= {sequence: name for name, sequence in table.items() if len(sequence) > 1}
    for modifiers in map(_Modifier, range(1, 8)):
        prefix = "".join(
            f"{letter}-" for letter, flag in _MODIFIER_LETTERS.items() if flag in modifiers
        )
        names |= {form.format(1 + modifiers): prefix + key for key, form in _MODIFIED.items()}
    return names


_SEQUENCE_NAMES = _sequence_names()


def key_names(text: str) -> list[tuple[str, str]]:
    """The keys typed as ``text``, in order, each as its characters and its tmux name: the
    inverse of ``encode_keys`` (``"ls\\x1b[A\\r"`` is l, s, Up, Enter). A printable character
    names itself; characters no key sends are named as Python writes them (``\\x1b[99~``)."""
    return [(key, _key_name(key)) for key in _ONE_KEY.findall(text)]


def _key_name(key: str) -> str:
    if key in _SEQUENCE_NAMES:
        return _SEQUENCE_NAMES[key]
    if len(key) == 1 and key.isprintable():
        return key
    meta = key[1:]
    if key.startswith("\x1b") and (
        meta in _SEQUENCE_NAMES or (len(meta) == 1 and meta.isprintable())
    ):
        return "M-" + _key_name(meta)
    return ascii(key)[1:-1]


def encode_keys(
    keys: str | Sequence[str], *, app_cursor: bool = False, app_keypad: bool = False
) -> bytes:
    """The bytes that pressing `keys`, tmux key names, sends to a program.

    `keys` is one name or a sequence of names, sent in order; a string is always one name, never
    split on spaces. `app_cursor` and `app_keypad` say whether the program switched the terminal
    to application cursor keys (DECCKM) or application keypad (DECKPAM).

    Raises `UnknownKeyError` for a name that is not a key, or a combination that tmux cannot send
    to a program (C-Enter, S-a); its message suggests close names.
    """
    names = [keys] if isinstance(keys, str) else keys
    return b"".join(_encode_key(name, app_cursor, app_keypad) for name in names)


def _encode_key(name: str, app_cursor: bool, app_keypad: bool) -> bytes:
    if len(name) == 1:
        return name.encode("utf-8", "surrogateescape")
    if code := _CHARACTER_CODE.fullmatch(name):
        return _encode_code(name, int(code[1], 16))
    modifiers, key = _parse(name)
    if modifiers == _Modifier.SHIFT and key == "\t":
        # tmux 3.3a types "S-Tab" as text; Shift-Tab is BTab in every terminal.
        modifiers, key = _Modifier(0), "BTab"
    if len(key) == 1:
        return _encode_character(name, key, modifiers)
    if key in _MODIFIED and modifiers:
        return _MODIFIED[key].format(1 + modifiers).encode()
    if modifiers & ~_Modifier.META:
        raise _unsendable(name)
    if app_cursor and key in _APP_CURSOR:
        sequence = _APP_CURSOR[key]
    elif app_keypad and key in _APP_KEYPAD:
        sequence = _APP_KEYPAD[key]
    else:
        sequence = _PLAIN[key]
    return _meta_prefix(modifiers) + sequence.encode()


def _parse(name: str) -> tuple[_Modifier, str]:
    """The modifiers of `name`, and its key: one character or a canonical name of _PLAIN."""
    modifiers, rest = _split_modifiers(name)
    if len(rest) == 1 and rest >= " ":
        return modifiers, rest
    canonical = _CANONICAL.get(rest.lower())
    if canonical is None:
        spaces = "; a name is one key, never split on spaces: pass a list" if " " in name else ""
        raise UnknownKeyError(name, f"Unknown key {name!r}{spaces}", _suggestions(name))
    return modifiers, _CHARACTER_KEYS.get(canonical, canonical)


def _split_modifiers(name: str) -> tuple[_Modifier, str]:
    prefix = _MODIFIER_PREFIX.match(name)
    assert prefix is not None  # the pattern matches the empty string
    modifiers = _Modifier.CTRL if prefix[1] else _Modifier(0)
    for letter in prefix[2][::2]:
        modifiers |= _MODIFIER_LETTERS[letter.upper()]
    return modifiers, name[prefix.end() :]


def _encode_character(name: str, character: str, modifiers: _Modifier) -> bytes:
    if ord(character) > 0x7F:
        # tmux 3.3a drops C- and S- on a character beyond ASCII.
        return _meta_prefix(modifiers) + character.encode("utf-8", "surrogateescape")
    if _Modifier.SHIFT in modifiers:
        raise _unsendable(name)
    if _Modifier.CTRL in modifiers:
        if character in _CONTROL_CODES:
            character = _CONTROL_CODES[character]
        elif character in _CONTROL_DIGITS and _Modifier.META not in modifiers:
            character = _CONTROL_DIGITS[character]
        else:
            raise _unsendable(name)
    return _meta_prefix(modifiers) + character.encode()


def _encode_code(name: str, code: int) -> bytes:
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise UnknownKeyError(name, f"Key {name!r} is not the code of a character")
    return chr(code).encode()


def _meta_prefix(modifiers: _Modifier) -> bytes:
    return b"\x1b" if _Modifier.META in modifiers else b""


def _unsendable(name: str) -> UnknownKeyError:
    return UnknownKeyError(
        name,
        f"Key {name!r} has no code a program can read outside xterm's extended keys mode "
        "(tmux sends nothing or types the name as text)",
    )


def _suggestions(name: str) -> list[str]:
    """Names close to `name` that can be sent, keeping its modifiers, best first."""
    rest = _split_modifiers(name)[1]
    prefix = name[: len(name) - len(rest)]
    candidates = [_OTHER_MODIFIERS.sub(lambda m: _OTHER_MODIFIER_NAMES[m[1].lower()], name)]
    if rest.lower() in _OTHER_KEY_NAMES:
        candidates.append(prefix + _OTHER_KEY_NAMES[rest.lower()])
    by_lower = {known.lower(): known for known in _NAMES}
    close = difflib.get_close_matches(rest.lower(), by_lower, n=3, cutoff=0.6)
    candidates += [prefix + by_lower[match] for match in close]
    return [
        candidate
        for candidate in dict.fromkeys(candidates)
        if candidate != name and _can_send(candidate)
    ]


def _can_send(name: str) -> bool:
    try:
        _encode_key(name, app_cursor=False, app_keypad=False)
    except UnknownKeyError:
        return False
    return True
