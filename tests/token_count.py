"""How the test servers count tokens: deterministically, and not the way clive estimates them.

A real server counts with its model's tokenizer, which clive does not have; clive estimates,
then calibrates its estimate on the usage the server reports (or asks a counting endpoint).
The test servers count a word as one token and each other mark as one, so clive's estimate
is off by a factor here too (as against llama.cpp, where it was 50% high), and a test that
passes only because the two counts agree cannot exist.
"""

from __future__ import annotations

import re
from typing import Any

_TOKENS = re.compile(r"\w+|[^\w\s]")
PER_MESSAGE = 4  # the chat template's markers around each message


def text_tokens(text: str) -> int:
    """The tokens of ``text``: each word, and each mark that is neither word nor space."""
    return len(_TOKENS.findall(text))


def value_tokens(value: Any) -> int:
    """The tokens of every string inside ``value`` (a JSON value), keys of objects included."""
    if isinstance(value, str):
        return text_tokens(value)
    if isinstance(value, dict):
        return sum(text_tokens(str(key)) + value_tokens(item) for key, item in value.items())
    if isinstance(value, list):
        return sum(value_tokens(item) for item in value)
    return 0 if value is None else text_tokens(str(value))


def request_tokens(body: dict[str, Any]) -> int:
    """The prompt tokens of a chat completions or Messages API request body: its system
    prompt, its messages (with ``PER_MESSAGE`` each) and its tools."""
    messages = body.get("messages") or []
    return (
        value_tokens(body.get("system"))
        + sum(PER_MESSAGE + value_tokens(message.get("content")) for message in messages)
        + sum(value_tokens(message.get("tool_calls")) for message in messages)
        + value_tokens(body.get("tools"))
    )
