"""The byte grammar of a terminal: the DEC VT500-series parser, over decoded text.

This is the state machine Paul Williams described for DEC's terminals (the one xterm,
alacritty's ``vte`` and libvterm follow), fed Unicode text rather than bytes. It decides only
what the output *says*: print these characters, execute this control, dispatch this escape or
control sequence, this OSC string ended. What each of those does to the screen is the
``Screen``'s business (``clive.terminal._screen``).

The grammar's rules that matter in practice, each of which pyte's parser broke:

- ESC anywhere abandons what was being parsed and starts a new escape sequence; CAN and SUB
  abandon it and go back to text. So a sequence cut short never eats the next one.
- C0 controls inside an escape or control sequence are executed there and then, and the
  sequence goes on (``ESC [ 1 LF ; 5 H``).
- OSC strings end at BEL or ST; DCS, SOS, PM and APC strings are consumed and ignored up to
  their terminator. A string has no length limit: the parser's state carries it across reads
  of any size, keeping only the first ``MAX_OSC`` characters of an OSC.
- Parameters are digits, ``;`` and ``:`` (sub-parameters, passed through for SGR); a private
  marker (``< = > ?``) counts only as the first character; anything else out of place makes
  the sequence ignored, as on a real terminal.

Speed: in the ground state, runs of printable text and complete, well-formed CSI sequences
are each taken by one regular expression match; only odd input goes a character at a time.
"""

from __future__ import annotations

import re
from typing import Protocol

# The longest OSC payload kept (as tmux's input buffer); a longer one is consumed and dropped.
MAX_OSC = 1 << 20
# Parameters above this are clamped (the screen's methods loop over some of them); a sequence
# with a parameter above what a C int holds, or with more than MAX_PARAMS of them, is dropped
# whole, as tmux drops it.
MAX_PARAM = 9999
MAX_PARAMS = 24
_LARGEST_INT = (1 << 31) - 1

GROUND = 0
ESCAPE = 1
CSI = 2  # collecting a control sequence a character at a time
CSI_IGNORE = 3  # a malformed control sequence: consumed up to its final character
OSC = 4
STRING_IGNORE = 5  # DCS, SOS, PM, APC

# One token of the ground state: printable text, a complete well-formed CSI sequence, or a
# C0 control other than ESC. What matches none of these (ESC, DEL, C1) goes the slow way.
_GROUND_TOKEN = re.compile(
    r"(?P<text>[^\x00-\x1f\x7f-\x9f]+)"
    r"|\x1b\[(?P<private>[<=>?]?)(?P<params>[0-9:;]*)(?P<inter>[ -/]*)(?P<final>[@-~])"
    r"|(?P<control>[\x00-\x1a\x1c-\x1f])"
)
# The body of a string up to where it may end: an OSC ends at BEL too, other strings do not.
_OSC_BODY = re.compile(r"[^\x07\x18\x1a\x1b]*")
_STRING_BODY = re.compile(r"[^\x18\x1a\x1b]*")
_ESCAPE_INTERMEDIATE = frozenset(" !\"#$%&'()*+,-./")
_STRING_STARTS = {"P": STRING_IGNORE, "X": STRING_IGNORE, "^": STRING_IGNORE, "_": STRING_IGNORE}


class Handler(Protocol):
    """What the parser tells: the screen implements these."""

    def print_text(self, text: str) -> None: ...

    def execute(self, control: str) -> None: ...

    def escape_dispatch(self, intermediates: str, final: str) -> None: ...

    def csi_dispatch(self, private: str, params: str, intermediates: str, final: str) -> None: ...

    def osc_dispatch(self, payload: str) -> None: ...


class Parser:
    """Turns terminal output into calls on a ``Handler``, carrying its state across feeds."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.state = GROUND
        self._collected = ""  # escape intermediates, CSI parameters, or the OSC payload
        self._private = ""
        self._intermediates = ""
        self._osc_dropped = False
        self._string_escape = False  # an ESC ended a DCS (SOS, PM, APC): ESC ESC goes on with it
        self._osc_ending: str | None = None  # an OSC's payload when ESC came: ST if "\\" follows
        self.errors = 0
        self.last_error: Exception | None = None

    @property
    def in_ground(self) -> bool:
        """True between sequences: the next character is read as text or a new control."""
        return self.state == GROUND

    _SAVED = (
        "state",
        "_collected",
        "_private",
        "_intermediates",
        "_osc_dropped",
        "_osc_ending",
        "_string_escape",
    )

    def saved(self) -> list:
        """The parser's state as plain values (for a keyframe); ``restore`` takes them back."""
        return [getattr(self, name) for name in self._SAVED]

    def restore(self, values: list) -> None:
        for name, value in zip(self._SAVED, values, strict=True):
            setattr(self, name, value)

    def feed(self, data: str) -> None:
        """Parse ``data``, calling the handler for each thing it says.

        A handler that raises loses only the thing it was handling: the error is counted
        (``errors``, ``last_error``) and parsing goes on with the next character.
        """
        handler = self.handler
        match_token = _GROUND_TOKEN.match
        position, end = 0, len(data)
        while position < end:
            token = match_token(data, position) if self.state == GROUND else None
            if token is None:
                position = self._guarded_step(data, position)
                continue
            position = token.end()
            try:
                kind = token.lastgroup
                if kind == "text":
                    handler.print_text(token.group())
                elif kind == "final":
                    handler.csi_dispatch(
                        token.group("private"),
                        token.group("params"),
                        token.group("inter"),
                        token.group("final"),
                    )
                else:
                    handler.execute(token.group())
            except Exception as error:  # one bad sequence must not blind clive
                self._failed(error)

    def finish_sequence(self, data: str) -> int:
        """Feed ``data`` only until the sequence in progress ends; how much was taken."""
        position, end = 0, len(data)
        while position < end and self.state != GROUND:
            position = self._guarded_step(data, position)
        return position

    def _guarded_step(self, data: str, position: int) -> int:
        """The slow way, one step: where the next one starts. A handler that raises loses the
        character it was handed, no more."""
        try:
            if self.state in (OSC, STRING_IGNORE):
                return self._string(data, position)
            return self._step(data, position)
        except Exception as error:  # one bad sequence must not blind clive
            self._failed(error)
            return position + 1

    def _failed(self, error: Exception) -> None:
        self.errors += 1
        self.last_error = error
        self.state = GROUND

    # -- the slow way: one character at a time ------------------------------------------------

    def _step(self, data: str, position: int) -> int:
        """Handle the character at ``position`` in any state but the strings'; the next one."""
        char = data[position]
        state = self.state
        if char == "\x1b":
            self.state = ESCAPE
            self._collected = ""
            self._osc_ending = None
            return position + 1
        if char in "\x18\x1a":  # CAN, SUB: abandon the sequence
            self.state = GROUND
            self._osc_ending = None
            return position + 1
        if char < " ":
            self.handler.execute(char)  # executed even in the middle of a sequence
            return position + 1
        if "\x7f" <= char <= "\x9f":
            return position + 1  # DEL and C1 controls (as code points) are ignored
        if state == GROUND:
            self.handler.print_text(char)
        elif state == ESCAPE:
            self._escape(char)
        elif state == CSI:
            self._csi(char)
        elif state == CSI_IGNORE and "@" <= char <= "~":
            self.state = GROUND
        return position + 1

    def _escape(self, char: str) -> None:
        ending, self._osc_ending = self._osc_ending, None
        if ending is not None and char == "\\" and not self._collected:
            self.state = GROUND
            self.handler.osc_dispatch(ending)
            return
        if char in _ESCAPE_INTERMEDIATE:
            self._collected += char
            return
        intermediates = self._collected
        self._collected = ""
        self.state = GROUND
        if intermediates:
            self.handler.escape_dispatch(intermediates, char)
        elif char == "[":
            self.state = CSI
            self._private = self._intermediates = ""
        elif char == "]":
            self.state = OSC
            self._osc_dropped = False
        elif char in _STRING_STARTS:
            self.state = _STRING_STARTS[char]
        else:
            self.handler.escape_dispatch("", char)

    def _csi(self, char: str) -> None:
        if "@" <= char <= "~":
            self.state = GROUND
            self.handler.csi_dispatch(self._private, self._collected, self._intermediates, char)
        elif " " <= char <= "/":
            self._intermediates += char
        elif self._intermediates:
            self.state = CSI_IGNORE  # a parameter after an intermediate
        elif char in "<=>?":
            if self._collected or self._private:
                self.state = CSI_IGNORE  # a private marker anywhere but first
            else:
                self._private = char
        elif "0" <= char <= ";":
            self._collected += char
        else:
            self.state = CSI_IGNORE  # a character a control sequence cannot hold

    def _string(self, data: str, position: int) -> int:
        """Consume an OSC, DCS, SOS, PM or APC string up to where it may end.

        BEL ends an OSC only; CAN and SUB end any string (an OSC so ended still counts, as in
        tmux); ESC ends one, and the escape sequence it starts is read (ST, ``ESC \\``, being
        the usual one), except that ``ESC ESC`` inside a DCS stands for an ESC of its own, as
        tmux's passthrough writes it.
        """
        if self._string_escape:
            self._string_escape = False
            if data[position] == "\x1b":
                return position + 1  # an escaped ESC inside the string
            self.state = ESCAPE
            return position
        pattern = _OSC_BODY if self.state == OSC else _STRING_BODY
        stop = pattern.match(data, position).end()
        if self.state == OSC and stop > position:
            room = MAX_OSC - len(self._collected)
            if room > 0:
                self._collected += data[position : min(stop, position + room)]
            if stop - position > room:
                self._osc_dropped = True
        if stop == len(data):
            return stop
        terminator = data[stop]
        payload, self._collected = self._collected, ""
        complete = self.state == OSC and not self._osc_dropped
        if terminator == "\x1b":
            self._osc_ending = payload if complete else None
            if self.state == STRING_IGNORE:
                self._string_escape = True  # ESC ESC, or the end of the string
            else:
                self.state = ESCAPE
        else:
            self.state = GROUND
            if complete:
                self.handler.osc_dispatch(payload)
        return stop + 1


def parse_params(params: str) -> list[int | None] | None:
    """``"1;;25"`` as ``[1, None, 25]``: empty means the default; sub-parameters dropped.
    None for a sequence to drop (a parameter too large, or too many of them)."""
    if not params:
        return []
    fields = params.split(";")
    if len(fields) > MAX_PARAMS:
        return None
    values: list[int | None] = []
    for field in fields:
        field = field.partition(":")[0]
        if not field:
            values.append(None)
            continue
        value = int(field)
        if value > _LARGEST_INT:
            return None
        values.append(min(value, MAX_PARAM))
    return values
