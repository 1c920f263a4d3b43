"""Model backends behind one protocol (``Model``), and choosing one from ``--model``."""

from __future__ import annotations

import os

from clive.models.base import Message, Model, ModelError, ModelReply, ToolResultBlock, ToolSpec
from clive.models.script import ScriptError, ScriptModel

__all__ = [
    "DEFAULT_MODEL",
    "Message",
    "Model",
    "ModelChoiceError",
    "ModelError",
    "ModelReply",
    "ScriptError",
    "ScriptModel",
    "ToolResultBlock",
    "ToolSpec",
    "open_model",
]

DEFAULT_MODEL = "claude-sonnet-4-5"

_NO_KEY = """\
clive needs a language model, and none is configured: ANTHROPIC_API_KEY is not set.
  - Give a key:   export ANTHROPIC_API_KEY=sk-ant-...   (https://console.anthropic.com)
  - Or point clive at a local OpenAI-compatible server (vLLM, Ollama, llama.cpp):
                  clive --model openai:NAME --base-url http://localhost:8000/v1 "task"
                  (that backend is not built yet in this version)
  - Or see the whole product without a key: clive demo"""

_NOT_BUILT = """\
the {kind} backend is not built yet in this version of clive.
  - Run a scripted model: clive --model script:turns.jsonl "task"  (format in README.md)
  - Or see the whole product: clive demo"""


class ModelChoiceError(ValueError):
    """``--model`` names nothing clive can run; the message says what to do instead."""


def open_model(spec: str) -> Model:
    """The backend ``--model`` names: ``script:PATH`` (others arrive with their backends)."""
    kind, _, rest = spec.partition(":")
    if kind == "script":
        if not rest:
            raise ModelChoiceError("--model script: needs a path: --model script:turns.jsonl")
        try:
            return ScriptModel(rest)
        except ScriptError as error:
            raise ModelChoiceError(str(error)) from error
    if kind == "openai":
        raise ModelChoiceError(_NOT_BUILT.format(kind="OpenAI-compatible"))
    if not os.environ.get("ANTHROPIC_API_KEY"):
        raise ModelChoiceError(_NO_KEY)
    raise ModelChoiceError(_NOT_BUILT.format(kind="Anthropic"))
