"""A key the user pressed in the UI, as the tmux key name the terminal sends (take-over mode).

Textual names keys its own way (``ctrl+c``, ``pageup``, ``shift+tab``); the terminal takes
tmux's names (``C-c``, ``PPage``, ``BTab``). A printable character is typed as itself.
"""

from __future__ import annotations

_NAMED = {
    "enter": "Enter",
    "escape": "Escape",
    "tab": "Tab",
    "shift+tab": "BTab",
    "backspace": "BSpace",
    "ctrl+h": "BSpace",  # what many terminals send for Backspace
    "space": "Space",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "home": "Home",
    "end": "End",
    "pageup": "PPage",
    "pagedown": "NPage",
    "insert": "IC",
    "delete": "DC",
}
_MODIFIERS = {"ctrl": "C-", "alt": "M-", "meta": "M-", "shift": "S-"}
# Textual's names of punctuation keys, for ctrl+ combinations.
_PUNCTUATION = {
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "backslash": "\\",
    "circumflex_accent": "^",
    "underscore": "_",
    "at": "@",
    "question_mark": "?",
    "minus": "-",
    "slash": "/",
}


def tmux_key(key: str, character: str | None) -> str | None:
    """The tmux name of Textual key ``key`` (with its ``character``), or None when the
    terminal has no such key."""
    if key in _NAMED:
        return _NAMED[key]
    if character and character.isprintable() and "+" not in key:
        return character
    *modifiers, base = key.split("+")
    if not modifiers:
        if base.startswith("f") and base[1:].isdigit():
            return base.upper()
        return None
    prefix = "".join(_MODIFIERS.get(m, "?") for m in modifiers)
    if "?" in prefix:
        return None
    if base in _NAMED:
        base = _NAMED[base]
    elif base in _PUNCTUATION:
        base = _PUNCTUATION[base]
    elif base.startswith("f") and base[1:].isdigit():
        base = base.upper()
    elif len(base) != 1:
        return None
    return prefix + base
