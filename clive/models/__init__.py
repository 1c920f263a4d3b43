"""Model backends behind one protocol (``Model``), and choosing one from the settings."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from clive.models.base import (
    DEFAULT_OUTPUT_LIMIT,
    Message,
    Model,
    ModelError,
    ModelReply,
    ModelUnavailable,
    Pricing,
    ToolResultBlock,
    ToolSpec,
)
from clive.models.script import ScriptError, ScriptModel

if TYPE_CHECKING:
    from clive.config import Config

__all__ = [
    "Message",
    "Model",
    "ModelChoiceError",
    "ModelError",
    "ModelReply",
    "ModelUnavailable",
    "Pricing",
    "ScriptError",
    "ScriptModel",
    "ToolResultBlock",
    "ToolSpec",
    "open_model",
]

_NO_KEY = """\
clive needs a language model, and none is configured: ANTHROPIC_API_KEY is not set.
  - Give a key:   export ANTHROPIC_API_KEY=sk-ant-...   (https://console.anthropic.com)
  - Or point clive at a local OpenAI-compatible server (vLLM, Ollama, llama.cpp):
                  clive --model openai:NAME --base-url http://localhost:8000/v1 "task"
  - Or see the whole product without a key: clive demo"""


class ModelChoiceError(ValueError):
    """The settings name no model clive can run; the message says what to do instead."""


def open_model(config: Config) -> Model:
    """The backend ``config.model`` names: ``script:PATH``, ``openai:NAME`` (with
    ``base_url``), or an Anthropic model (``anthropic:NAME`` or just ``NAME``)."""
    kind, _, rest = config.model.partition(":")
    if kind == "script":
        if not rest:
            raise ModelChoiceError("--model script: needs a path: --model script:turns.jsonl")
        try:
            return ScriptModel(rest)
        except ScriptError as error:
            raise ModelChoiceError(str(error)) from error
    if kind == "openai":
        from clive.models.openai import OpenAIModel

        if not rest:
            raise ModelChoiceError("--model openai: needs a model name: --model openai:NAME")
        if not config.base_url:
            raise ModelChoiceError(
                f"--model {config.model} needs the server's address: "
                "--base-url http://localhost:8000/v1 (vLLM), http://localhost:11434/v1 "
                "(Ollama), https://api.openai.com/v1 (OpenAI)"
            )
        return OpenAIModel(
            rest,
            base_url=config.base_url,
            api_key=os.environ.get("OPENAI_API_KEY") or None,
            max_tokens=config.max_output_tokens,
            prices=config.prices,
            retry=config.retry,
        )
    if kind != "anthropic" and re.match(r"(gpt-|o[1-9]\b|o[1-9]-|chatgpt)", config.model):
        raise ModelChoiceError(
            f"{config.model} is an OpenAI model: OpenAI-compatible models are given as "
            f"openai:NAME with the server's address: --model openai:{config.model} "
            "--base-url https://api.openai.com/v1"
        )
    from clive.models.anthropic import AnthropicModel

    name = rest if kind == "anthropic" else config.model
    key = os.environ.get("ANTHROPIC_API_KEY") or None
    if key is None and not config.base_url:
        raise ModelChoiceError(_NO_KEY)
    return AnthropicModel(
        name,
        api_key=key or "none",  # a local Messages API server may not ask for one
        base_url=config.base_url,
        max_tokens=config.max_output_tokens or DEFAULT_OUTPUT_LIMIT,
        thinking_budget=config.thinking,
        prices=config.prices,
        retry=config.retry,
    )
