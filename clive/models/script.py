"""The script backend: model turns read from a JSONL file, for tests and the demo.

One turn a line: ``{"text": "what the model says", "tool": NAME, "input": {...}}``; ``text`` is
optional, and so is ``tool`` (a turn that only talks). A line ``{"compact": "notes"}`` is the
answer to a request for notes when the context is compacted: such lines are used, in order,
only for those requests. Blank lines and lines starting with ``#`` are skipped. The script
does not look at what the terminal shows: it drives the real loop, terminal and session, and
every event of the session says it was scripted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from clive.models.base import (
    Message,
    ModelError,
    ModelReply,
    RetryListener,
    TextListener,
    ToolSpec,
)
from clive.session.events import ToolCall


class ScriptTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    tool: str | None = None
    input: Any = None
    compact: str | None = None  # notes, answering a compaction request

    @model_validator(mode="after")
    def _compact_stands_alone(self) -> ScriptTurn:
        if self.compact is not None and (self.text or self.tool or self.input is not None):
            raise ValueError('a compact line holds only the notes: {"compact": "..."}')
        return self


class ScriptError(ValueError):
    """The script file cannot be used; the message names the file and line."""


class ScriptModel:
    """Replays the turns of ``path`` in order, one per call of ``reply``."""

    scripted = True
    context_limit = None
    output_limit = None

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"script:{self.path}"
        turns = load_script(self.path)
        self.turns = [turn for turn in turns if turn.compact is None]
        self.compactions = [turn.compact for turn in turns if turn.compact is not None]
        self._next = 0
        self._next_compaction = 0

    def reply(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        on_text: TextListener | None = None,
        on_retry: RetryListener | None = None,
    ) -> ModelReply:
        if messages and messages[-1].compaction:
            return self._compaction()
        if self._next >= len(self.turns):
            raise ModelError(
                f"the script {self.path} has no turn left after {len(self.turns)} turns "
                "(end a script with a finish call)"
            )
        turn = self.turns[self._next]
        self._next += 1
        calls = []
        if turn.tool is not None:
            calls.append(ToolCall(id=f"script-{self._next}", name=turn.tool, input=turn.input))
        if turn.text and on_text is not None:
            on_text(turn.text)
        return ModelReply(text=turn.text, tool_calls=calls, cost=0.0)

    def count_tokens(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> int | None:
        return None  # a script reads no tokens

    def _compaction(self) -> ModelReply:
        if self._next_compaction >= len(self.compactions):
            notes = "(scripted: the script has no compact line left, so no notes)"
        else:
            notes = self.compactions[self._next_compaction]
            self._next_compaction += 1
        return ModelReply(text=notes, cost=0.0)


def load_script(path: Path) -> list[ScriptTurn]:
    """The turns of a script file, or a ``ScriptError`` naming the line that is wrong."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ScriptError(f"cannot read the script {path}: {error.strerror}") from error
    except UnicodeDecodeError:
        raise ScriptError(
            f"{path} is not a script: a script is a text file of JSON lines (UTF-8), one model "
            "turn a line"
        ) from None
    turns = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            value = json.loads(line)
            turns.append(ScriptTurn.model_validate(value))
        except json.JSONDecodeError as error:
            raise ScriptError(f"{path}:{number}: not JSON: {error.msg}") from error
        except ValidationError as error:
            problem = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in error.errors()
            )
            raise ScriptError(f"{path}:{number}: {problem}") from error
    if not turns:
        raise ScriptError(f"the script {path} has no turns")
    return turns
