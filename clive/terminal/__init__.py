"""The terminal core: a real shell in a PTY that a program can drive, read and trust.

``Terminal`` is the entry point: ``with Terminal(cols=120, rows=40) as term:``, then
``term.run("make test", timeout=600)``, ``term.wait(...)``, ``term.snapshot()``.
"""

from clive.terminal.emulator import Cursor, Emulator
from clive.terminal.keys import UnknownKeyError, encode_keys
from clive.terminal.terminal import (
    CallbackError,
    RunResult,
    ScreenState,
    Snapshot,
    Terminal,
    TerminalError,
    WaitOutcome,
    WaitReason,
)
from clive.terminal.transcript import Mark, Transcript

__all__ = [
    "CallbackError",
    "Cursor",
    "Emulator",
    "Mark",
    "RunResult",
    "ScreenState",
    "Snapshot",
    "Terminal",
    "TerminalError",
    "Transcript",
    "UnknownKeyError",
    "WaitOutcome",
    "WaitReason",
    "encode_keys",
]
