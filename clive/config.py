"""clive's settings: defaults, then TOML files, then environment variables, then flags.

Files, later ones winning: ``$XDG_CONFIG_HOME/clive/config.toml`` (``~/.config/...``), then
``clive.toml`` in the working directory. Environment variables: ``CLIVE_<SETTING>`` in capitals
(``CLIVE_MODEL``, ``CLIVE_MAX_COST``...). Flags win over everything. Everything is validated
here, and a wrong value is reported with where it came from.

    model = "claude-sonnet-4-5"
    approve = "risky"
    max_cost = 5.0
    [prices."claude-sonnet-4-5"]
    input = 3.0
    output = 15.0
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clive.models._retry import RetryPolicy
from clive.models.base import Pricing

DEFAULT_MODEL = "claude-sonnet-4-5"
CONFIG_NAME = "clive.toml"

# Dollars per million tokens (cache reads and writes default to 0.1x and 1.25x input).
# Prices change: override or add entries under [prices."MODEL"] in a config file.
DEFAULT_PRICES: dict[str, Pricing] = {
    "claude-opus-4-5": Pricing(input=5.0, output=25.0),
    "claude-opus-4-1": Pricing(input=15.0, output=75.0),
    "claude-opus-4": Pricing(input=15.0, output=75.0),
    "claude-sonnet-4-5": Pricing(input=3.0, output=15.0),
    "claude-sonnet-4": Pricing(input=3.0, output=15.0),
    "claude-haiku-4-5": Pricing(input=1.0, output=5.0),
    "claude-3-5-haiku": Pricing(input=0.8, output=4.0),
}

# Commands that need approval under --approve risky: regular expressions searched in what
# the model types. Each is named for the message the model and the user see.
DEFAULT_RISKY: dict[str, str] = {
    "rm -rf on a broad path": (
        r"\brm\s+(-[a-zA-Z]*[rR][a-zA-Z]*\s+|--recursive\s+|--force\s+|-[a-zA-Z]+\s+|--\s+"
        r"|--no-preserve-root\s+)*[\"']?(/|~/?|\$\{?HOME\}?/?|\*|\.\.?/?|/(usr|etc|var|home"
        r"|boot|bin|lib|opt|root|srv)/?)[\"']?\*?(\s|$|;|&|\|)"
    ),
    "making a file system": r"\bmkfs(\.\w+)?\b",
    "dd onto a device": r"\bdd\b[^\n;&|]*\bof=/dev/(?!null\b|zero\b|stdout\b|stderr\b|fd/)",
    "writing to a disk device": r">\s*/dev/(sd|nvme|hd|vd|xvd|mmcblk)",
    "a force push": r"\bgit\s+push\b[^\n;&|]*(--force\b|--force-with-lease\b|\s-f\b|\s\+\S)",
    "a download piped into a shell": (
        r"\b(curl|wget)\b[^\n|]*\|\s*(sudo\s+)?((ba|z|da|k)?sh|python3?|perl|ruby)\b"
    ),
    "shutting down or rebooting": (
        r"(^|[;&|(]\s*|\bsudo\s+)(shutdown|reboot|poweroff|halt)\b|(^|[;&|]\s*)init\s+[06]\b"
    ),
    "sudo": r"(^|[;&|(]\s*|\s)sudo\s",
    "a fork bomb": r":\(\)\s*\{\s*:\s*\|\s*:",
    "changing permissions of / recursively": r"\bch(mod|own)\s+-R\b[^\n;&|]*\s/(\s|$)",
    "deleting a git history": r"\brm\s+-[a-zA-Z]*[rR][a-zA-Z]*\s+([^\n;&|]*[\s/])?\.git(\s|/|$)",
    "a hard reset or clean of the work tree": (
        r"\bgit\s+(-C\s+\S+\s+)?(reset\s+--hard|clean\s+-[a-zA-Z]*f)"
    ),
}


class ConfigError(ValueError):
    """A setting is wrong; the message says which, where it was set, and why."""


class Config(BaseModel):
    """Every setting of a run (all optional in files)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(DEFAULT_MODEL, description="the model, e.g. claude-sonnet-4-5, openai:NAME")
    base_url: str | None = Field(None, description="the API's URL (needed for openai:NAME)")
    max_output_tokens: int | None = Field(
        None,
        ge=1,
        description="tokens a model turn may write (default 8192, at most a quarter of a "
        "local server's context window)",
    )
    thinking: int | None = Field(None, ge=1024, description="extended thinking budget, tokens")
    context_limit: int | None = Field(None, ge=1000, description="override the model's")
    compact_at: float = Field(0.8, gt=0, lt=1, description="compact at this share of context")
    approve: Literal["never", "risky", "always"] = "risky"
    risky: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RISKY))
    prices: dict[str, Pricing] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    prompts: Path | None = Field(None, description="a directory of prompt overrides")
    sessions_dir: Path = Path("sessions")
    sandbox: Literal["auto", "on", "off"] = Field(
        "auto", description="the model's shell in bubblewrap: auto (where it works), on, off"
    )
    network: Literal["on", "off"] = Field("on", description="the sandboxed shell's network")
    max_steps: int = Field(500, ge=1)
    max_time: float | None = Field(None, gt=0, description="seconds")
    max_cost: float | None = Field(None, gt=0, description="dollars")
    max_tokens: int | None = Field(None, ge=1, description="tokens in all, every kind")
    max_invalid_calls: int = Field(3, ge=1)


# Settings an environment variable can hold (tables such as prices only come from files).
_ENV_SETTINGS = (
    "model",
    "base_url",
    "max_output_tokens",
    "thinking",
    "context_limit",
    "compact_at",
    "approve",
    "prompts",
    "sessions_dir",
    "sandbox",
    "network",
    "max_steps",
    "max_time",
    "max_cost",
    "max_tokens",
    "max_invalid_calls",
)


def config_files(cwd: Path) -> list[Path]:
    """The config files that exist, lowest precedence first."""
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    candidates = [Path(home) / "clive" / "config.toml", cwd / CONFIG_NAME]
    return [path for path in candidates if path.is_file()]


def load_config(
    cwd: Path, flags: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Config:
    """The settings for a run in ``cwd``: defaults < files < environment < ``flags``
    (flags that are None were not given)."""
    environ = os.environ if environ is None else environ
    # Tables start from the defaults, so a file adds or changes entries, not replaces them.
    merged: dict[str, Any] = {
        "prices": {name: price.model_dump() for name, price in DEFAULT_PRICES.items()},
        "risky": dict(DEFAULT_RISKY),
    }
    for path in config_files(cwd):
        values = _read_file(path)
        _validate(values, str(path))
        _merge(merged, values)
    from_env = {
        name: environ[f"CLIVE_{name.upper()}"]
        for name in _ENV_SETTINGS
        if environ.get(f"CLIVE_{name.upper()}")
    }
    _validate(from_env, "the environment", lambda field: f"CLIVE_{field.upper()}")
    _merge(merged, from_env)
    _merge(merged, {name: value for name, value in flags.items() if value is not None})
    return _validate(merged, "the settings")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror}") from error


def _merge(into: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Later values win; tables (prices, risky, retry) are merged entry by entry."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}
        else:
            into[key] = value


def _validate(
    values: Mapping[str, Any], where: str, name: Callable[[str], str] = lambda field: field
) -> Config:
    try:
        return Config.model_validate(values)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            field = name(".".join(str(part) for part in problem["loc"])) or "(the file)"
            given = problem.get("input")
            shown = "" if isinstance(given, dict) else f" (given: {given!r})"
            message = problem["msg"]
            if problem["type"] == "extra_forbidden":
                message = f"no such setting; the settings are {', '.join(Config.model_fields)}"
            problems.append(f"  {field}: {message}{shown}")
        raise ConfigError(f"{where}: invalid settings:\n" + "\n".join(problems)) from None
