"""``task.md``: a task with a metric, as a person writes it and the harness reads it.

The file is Markdown for the model (what to try, what not to change, when to stop) with YAML
front matter for the harness, in this shape::

    ---
    metric:
      setup: python3 train.py          # optional: runs first, alone; its output is not read
      command: ./bench.sh              # the evaluation: its output holds the number
      pattern: 'val_bpb: ([0-9.]+)'    # the first group is the number
      goal: minimize                   # or maximize
      budget: 300                      # seconds per run before it is stopped
      repeats: 1
      paths: [.venv, ~/.cache/data]  # what the metric reads besides the tree: read-only
      env: {OMP_NUM_THREADS: "1"}     # the metric's variables (its environment is clean)
      network: false                  # whether the metric may use the network
      timing: true                    # a duration: noisy, so the baseline is measured 3 times
      noise_repeats: 3                # runs of the baseline that estimate the noise
      remeasure: 2                    # runs more for a change better but within the noise
    protect: [prepare.py, bench.sh]
    limits: {experiments: 100, consecutive_failures: 5}
    plateau: 10                       # experiments without a kept change: the model is told
    holdout: /srv/eval/holdout.yaml   # a second metric the model never sees: its file is
                                      # outside the repository (the model reads task.md)
    on_holdout_regress: revert        # or flag (the default): a kept change that worsens it
    ---

The held-out metric's file holds what it runs, in the same shape as ``metric``::

    command: python3 /srv/eval/heldout.py
    pattern: 'heldout: ([0-9.]+)'
    goal: minimize
    paths: [/srv/eval]                # what it reads: hidden from the model, as is the file's
    every: 1                          # directory; measured on every Nth kept change

Anything wrong in the front matter raises ``TaskFileError`` naming the file, the field and
what is expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

# What each field must hold, said the way the error messages say it.
_EXPECTED = {
    "metric": "a mapping with command, pattern, goal, budget, repeats, setup, paths, env, network",
    "metric.command": "the shell command that prints the metric, e.g. ./bench.sh",
    "metric.setup": "a shell command run before the metric command, e.g. python3 train.py",
    "metric.pattern": "a regular expression whose first group is the number, "
    "e.g. 'val_bpb: ([0-9.]+)'",
    "metric.goal": "minimize or maximize",
    "metric.budget": "seconds per run, a number greater than 0",
    "metric.repeats": "how many times each experiment is measured, an integer of at least 1",
    "metric.paths": "a list of paths the metric reads that git does not track (a .venv, a "
    "dataset cache), relative to the task's directory or absolute",
    "metric.env": "a mapping of environment variables for the metric, names to text",
    "metric.network": "true or false: whether the metric may use the network",
    "protect": "a list of paths, relative to the task's directory, that the agent must not modify",
    "limits": "a mapping with experiments and consecutive_failures",
    "limits.experiments": "the maximum number of experiments, an integer of at least 1",
    "limits.consecutive_failures": "how many failed experiments in a row end the task, "
    "an integer of at least 1",
    "metric.timing": "true or false: whether the metric is a duration (noisy: the baseline is "
    "then measured 3 times unless noise_repeats says otherwise)",
    "metric.noise_repeats": "how many times the baseline is measured to estimate the noise, an "
    "integer of at least 1",
    "metric.remeasure": "how many more runs a change gets when it is better but within the "
    "noise, an integer of at least 0",
    "plateau": "how many experiments without a kept change before the model is told to change "
    "approach, an integer of at least 1",
    "holdout": "the absolute path of a YAML file outside the repository (the model can read "
    "task.md) with command, pattern, goal, budget, paths, every: a second metric the model "
    "never sees",
    "holdout.command": "the shell command that prints the held-out metric",
    "holdout.pattern": "a regular expression whose first group is the held-out number",
    "holdout.goal": "minimize or maximize",
    "holdout.paths": "a list of absolute paths of the directories the held-out command reads "
    "(hidden from the model)",
    "holdout.every": "measure it on every Nth kept change, an integer of at least 1",
    "on_holdout_regress": "flag (the default: marked in the table and the UI) or revert (the "
    "kept change is undone)",
}


class TaskFileError(ValueError):
    """The task file cannot be used; the message names the file, the field and what to do."""


class Goal(StrEnum):
    """Whether a lower or a higher metric is better."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class _Settings(BaseModel):
    # Strict: YAML's `yes` or `true` must not pass as the number 1.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Reading(_Settings):
    """A command whose output holds a number: the pattern that finds it, and which way is
    better."""

    command: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    goal: Goal

    @field_validator("command")
    @classmethod
    def _one_line(cls, command: str | None) -> str | None:
        if command is None:
            return None
        if "\n" in command.strip():
            raise ValueError("one line, please: put a longer procedure in a script")
        return command.strip()

    @field_validator("goal", mode="before")
    @classmethod
    def _goal_from_text(cls, value: object) -> Goal:
        # Strict mode takes an enum only as its member; YAML gives text.
        if value not in ("minimize", "maximize"):
            raise ValueError(f"{value!r} is not a goal")
        return Goal(value)

    @field_validator("pattern")
    @classmethod
    def _pattern_has_a_group(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as error:
            raise ValueError(f"{value!r} is not a regular expression ({error})") from None
        if compiled.groups < 1:
            raise ValueError(f"{value!r} has no group: put the number in parentheses")
        return value

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    @property
    def lower_is_better(self) -> bool:
        return self.goal is Goal.MINIMIZE


class Metric(_Reading):
    """How the harness measures an experiment."""

    # Runs first, in a sandbox of its own that ends before ``command`` starts: the model's
    # code (training) kept apart from the evaluation, so nothing of it runs beside it.
    setup: str | None = Field(None, min_length=1)
    budget: float = Field(gt=0)
    repeats: int = Field(1, ge=1)
    paths: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    network: bool = False
    timing: bool = False
    noise_repeats: int | None = Field(None, ge=1)
    remeasure: int = Field(2, ge=0)

    @property
    def baseline_runs(self) -> int:
        """Runs of the baseline: enough to estimate the noise (3 for a timing)."""
        return max(self.repeats, self.noise_repeats or (3 if self.timing else 1))

    @field_validator("paths")
    @classmethod
    def _paths_named(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.strip() or "\0" in path:
                raise ValueError(f"{path!r} is not a path")
        return paths

    @field_validator("env")
    @classmethod
    def _variable_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable's name")
        return env

    @field_validator("setup")
    @classmethod
    def _setup_one_line(cls, setup: str | None) -> str | None:
        return cls._one_line(setup)


class Limits(_Settings):
    """When the loop of experiments stops, whatever the model wants."""

    experiments: int = Field(100, ge=1)
    consecutive_failures: int = Field(5, ge=1)


class Holdout(_Reading):
    """A second metric, held out: the harness measures it on kept changes; the model never
    sees its command, its files or its numbers."""

    budget: float = Field(300, gt=0)
    paths: list[str] = Field(default_factory=list)
    every: int = Field(1, ge=1)

    @field_validator("paths")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not PurePosixPath(path).is_absolute() or "\0" in path:
                raise ValueError(f"{path!r} is not an absolute path (outside the repository)")
        return paths


def _absolute_file(path: object) -> str | None:
    if path is None:
        return None
    if not isinstance(path, str):
        raise ValueError(
            "write the held-out metric in a file outside the repository and name it here "
            "(the model can read task.md)"
        )
    if not PurePosixPath(path).is_absolute():
        raise ValueError(f"{path!r} is not an absolute path (outside the repository)")
    return path


def _inside_the_task(path: str) -> str:
    pure = PurePosixPath(path)
    if not path.strip() or pure.is_absolute() or ".." in pure.parts:
        raise ValueError(f"{path!r} is not a relative path inside the task's directory")
    return path


class FrontMatter(_Settings):
    """The harness's part of ``task.md``."""

    metric: Metric
    protect: list[Annotated[str, AfterValidator(_inside_the_task)]] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    plateau: int = Field(10, ge=1)
    holdout: Annotated[str | None, BeforeValidator(_absolute_file)] = None
    on_holdout_regress: Literal["flag", "revert"] = "flag"


@dataclass(frozen=True)
class TaskFile:
    """A parsed ``task.md``: the harness's settings and the Markdown for the model."""

    path: Path
    metric: Metric
    protect: tuple[str, ...]
    limits: Limits
    body: str  # the Markdown after the front matter, for the model
    plateau: int = 10
    holdout: Holdout | None = None  # read from ``holdout_file`` by ``load_task``
    on_holdout_regress: str = "flag"
    holdout_file: Path | None = None

    @property
    def hidden(self) -> list[Path]:
        """What the model must never see: the held-out metric's file and what it reads."""
        if self.holdout_file is None:
            return []
        paths = self.holdout.paths if self.holdout else []
        return [self.holdout_file.parent, *(Path(p) for p in paths)]

    @property
    def directory(self) -> Path:
        """Where the metric command runs and the protected paths are found."""
        return self.path.parent

    @property
    def name(self) -> str:
        """The body's first heading, else the directory's name: for branch names."""
        for line in self.body.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        return self.directory.name


def load_task(path: str | Path) -> TaskFile:
    """Read and check ``path``; protected paths must exist in its directory."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskFileError(f"{path}: cannot read the task file: {error}") from None
    task = parse_task(text, path)
    for index, protected in enumerate(task.protect):
        if not (task.directory / protected).exists():
            raise TaskFileError(
                f"{path}: protect[{index}]: {protected!r} does not exist in {task.directory}; "
                f"expected {_EXPECTED['protect']}"
            )
    task = with_holdout(task)
    for index, held in enumerate(task.holdout.paths if task.holdout else ()):
        if not Path(held).is_dir():
            raise TaskFileError(
                f"{task.holdout_file}: paths[{index}]: {held!r} is not a directory; expected "
                f"{_EXPECTED['holdout.paths']}"
            )
    return task


def with_holdout(task: TaskFile) -> TaskFile:
    """``task`` with its held-out metric read from its file (raises ``TaskFileError``)."""
    if task.holdout_file is None:
        return task
    return replace(task, holdout=_load_holdout(task.holdout_file))


def _load_holdout(path: Path) -> Holdout:
    """The held-out metric's file (``holdout.*`` errors name it)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TaskFileError(f"{path}: cannot read the held-out metric: {error}") from None
    try:
        return Holdout.model_validate(data)
    except ValidationError as error:
        raise TaskFileError(_describe(path, error, parent="holdout")) from None


def parse_task(text: str, path: str | Path = "task.md") -> TaskFile:
    """Split ``text`` into front matter and body and check the front matter."""
    path = Path(path)
    front, body, first_line = _split_front_matter(text, path)
    try:
        data = yaml.safe_load(front)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + first_line}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise TaskFileError(
            f"{path}: front matter: invalid YAML{where}: {problem}; expected YAML settings: "
            "metric (command, pattern, goal, budget, repeats), protect, limits"
        ) from None
    if not isinstance(data, dict):
        raise TaskFileError(
            f"{path}: front matter: expected a YAML mapping with metric, protect and limits, "
            f"got {type(data).__name__}"
        )
    try:
        settings = FrontMatter.model_validate(data)
    except ValidationError as error:
        raise TaskFileError(_describe(path, error)) from None
    return TaskFile(
        path=path,
        metric=settings.metric,
        protect=tuple(settings.protect),
        limits=settings.limits,
        body=body,
        plateau=settings.plateau,
        on_holdout_regress=settings.on_holdout_regress,
        holdout_file=Path(settings.holdout) if settings.holdout else None,
    )


def _split_front_matter(text: str, path: Path) -> tuple[str, str, int]:
    """(front matter, body, line number of the front matter's first line)."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise TaskFileError(
            f"{path}: front matter: missing; expected the file to start with a line '---', "
            "the YAML settings (metric, protect, limits), and a closing line '---'"
        )
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]).strip("\n"), 2
    raise TaskFileError(
        f"{path}: front matter: not closed; expected a line '---' after the YAML settings"
    )


def _describe(path: Path, error: ValidationError, parent: str = "") -> str:
    """Each problem of a validation error as a clause a person can act on (``parent``: the
    field the validated mapping is, for what is expected)."""
    problems = []
    for item in error.errors():
        loc = [parent, *map(str, item["loc"])] if parent else [str(part) for part in item["loc"]]
        field = ".".join(p for p in loc if not p.isdigit())
        shown = loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
        if item["type"] == "extra_forbidden":
            known = ", ".join(_known_fields(field.rpartition(".")[0]))
            problems.append(f"{shown}: unknown field; the fields here are {known}")
            continue
        if item["type"] == "missing":
            problem = "missing"
        elif item["type"] == "value_error":
            problem = item["msg"].removeprefix("Value error, ")
        else:
            problem = f"{item['msg']}, got {item['input']!r}"
        expected = _EXPECTED.get(field)
        problems.append(f"{shown}: {problem}" + (f"; expected {expected}" if expected else ""))
    return f"{path}: " + "; ".join(problems)


def _known_fields(parent: str) -> list[str]:
    models = {"": FrontMatter, "metric": Metric, "limits": Limits, "holdout": Holdout}
    model = models.get(parent, FrontMatter)
    return list(model.model_fields)
