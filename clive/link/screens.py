"""``Screens``: a view's own copies of a session's terminals (the shell, and the harness's
measurement while it runs), fed from the stream's messages."""

from __future__ import annotations

import codecs
import threading

from clive.link.hub import MEASUREMENT, SHELL, Message
from clive.terminal._screen_state import restore_state
from clive.terminal.emulator import Cursor, Emulator

_Decoder = codecs.getincrementaldecoder("utf-8")
_FEED_BACKLOG = 1 << 20  # bytes of output taken before they are fed, whoever looks or not


class Screens:
    """Takes the screen messages (``take``) in the link's thread; ``view`` gives the cells of
    the screen to show (the measurement while one runs) to whoever draws them. Output is fed
    to the emulators when someone looks (or past a megabyte), as the terminal itself does."""

    def __init__(self, cols: int, rows: int) -> None:
        self._lock = threading.Lock()
        self._emulators: dict[str, Emulator] = {SHELL: Emulator(cols, rows)}
        self._decoders = {SHELL: _Decoder("replace")}
        self._pending: list[tuple[str, bytes]] = []  # output taken, not fed yet: (screen, data)
        self._pending_bytes = 0
        self.measuring = False
        self.changed = threading.Event()  # set at every change, cleared by whoever draws
        self.received = 0  # bytes of output taken so far

    def take(self, message: Message) -> bool:
        """Apply ``message`` if it is about a screen; False for any other message."""
        kind = message["k"]
        if kind == "output":
            data = message["data"]
            self.received += len(data)
            with self._lock:
                if message["screen"] in self._decoders:
                    self._pending.append((message["screen"], data))
                    self._pending_bytes += len(data)
                    if self._pending_bytes > _FEED_BACKLOG:
                        self._feed()
        elif kind == "screen":
            emulator = restore_state(message["state"])
            decoder = _Decoder("replace")
            text = decoder.decode(message["pending"])
            with self._lock:
                self._feed()  # what came before the state, for the other screen
                self._emulators[message["screen"]] = emulator
                self._decoders[message["screen"]] = decoder
                emulator.feed(text)
        elif kind == "resize":
            with self._lock:
                self._feed()
                emulator = self._emulators.get(message["screen"])
                if emulator is not None:
                    emulator.resize(message["cols"], message["rows"])
        elif kind == "measuring":
            with self._lock:
                self._feed()
                self.measuring = bool(message["on"])
                if not self.measuring:
                    self._emulators.pop(MEASUREMENT, None)
                    self._decoders.pop(MEASUREMENT, None)
        else:
            return False
        self.changed.set()
        return True

    @property
    def shown(self) -> str:
        """The screen ``view`` shows: the measurement once its state has come, else the shell."""
        return MEASUREMENT if self.measuring and MEASUREMENT in self._emulators else SHELL

    def view(self) -> tuple[list[list], Cursor]:
        with self._lock:
            self._feed()
            emulator = self._emulators[self.shown]
            return emulator.cells(), emulator.cursor

    def lines(self, screen: str = SHELL) -> list[str]:
        """The text of ``screen`` (for tests and for whoever reads rather than draws)."""
        with self._lock:
            self._feed()
            return self._emulators[screen].lines()

    def _feed(self) -> None:
        """Feed the output taken since the last look (caller holds the lock): in big pieces,
        in which the emulator skips whatever scrolled out of sight at once."""
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        start = 0
        while start < len(pending):
            screen = pending[start][0]
            end = start
            while end < len(pending) and pending[end][0] == screen:
                end += 1
            data = b"".join(data for _, data in pending[start:end])
            self._emulators[screen].feed(self._decoders[screen].decode(data))
            start = end
