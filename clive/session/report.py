"""A session as a Markdown report: the task, each step (what the model saw, said and did),
and how it ended. ``clive show`` prints it; ``clive export --format md`` writes it."""

from __future__ import annotations

from clive.session.info import RESULTS_FILE
from clive.session.present import EXACT, Presented, Presenter, Said, Turn
from clive.session.reader import Session


def markdown_report(session: Session, *, full_observations: bool = False) -> str:
    """The report; ``full_observations`` includes each screen, else only each header."""
    info = session.info
    log = session.log()
    # A task file's text is long: its first line is the title, the rest follows.
    title, _, rest = info.task.strip().partition("\n")
    out = [f"# {title.lstrip('# ').strip()}", ""]
    if rest.strip():
        out += [rest.strip(), ""]
    facts = [
        ("session", session.name),
        ("model", info.model + (" (scripted: no language model)" if info.scripted else "")),
        ("started", info.started_at),
        ("directory", info.cwd),
        ("outcome", info.outcome.value + (f" ({info.reason})" if info.reason else "")),
        ("steps", str(info.totals.steps)),
        ("duration", f"{info.totals.duration:.1f}s"),
    ]
    if info.totals.cost is not None:
        facts.append(("cost", f"${info.totals.cost:.4f}"))
    out += [f"- **{name}:** {value}" for name, value in facts] + [""]
    out += _results_table(session)
    presenter = Presenter(EXACT)
    items = [item for event in log.events for item in presenter.add(event)]
    headed: set[int] = set()
    for item in [*items, *presenter.finish()]:
        if item.step is not None and item.step not in headed:
            headed.add(item.step)
            out += [f"## Step {item.step}", ""]
        out += _paragraphs(item, full_observations)
    if log.torn_tail is not None:
        out += [
            "",
            f"> The log ends with a line cut short (the harness was killed): "
            f"`{log.torn_tail[:120]}`",
        ]
    if log.bad_lines:
        out += ["", f"> Lines that are not events: {', '.join(map(str, log.bad_lines))}"]
    return "\n".join(out).rstrip() + "\n"


def _results_table(session: Session) -> list[str]:
    """The experiments of a task with a metric, from results.tsv, as a table."""
    path = session.directory / RESULTS_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return []
    rows = [line.split("\t") for line in lines]
    out = ["## Experiments", ""]
    out.append("| " + " | ".join(rows[0]) + " |")
    out.append("|" + " --- |" * len(rows[0]))
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return [*out, ""]


def _paragraphs(item: Presented, full: bool) -> list[str]:
    """What ``item`` says as paragraphs, each with its bold label."""
    if item.turn is not None:
        return _turn(item.turn)
    match item.kind:
        case "start":
            return []  # the report's head says it
        case "observation":
            header, _, screen = item.block.partition("\n")
            return [f"**Observed** `{header}`", "", *([_fence(screen), ""] if full else [])]
        case "end":
            outcome, spent = item.said
            facts = f" ({', '.join(outcome.facts)})" if outcome.facts else ""
            lines = ["## End", "", f"**Outcome:** {outcome.name}{facts}", ""]
            return [*lines, *([outcome.text, ""] if outcome.text else []), spent.text, ""]
    lines = []
    for said in item.said:
        lines += [_paragraph(said), ""]
    if item.dropped:
        lines += [f"Left out of the notes request to fit the window: {item.dropped}.", ""]
    if item.block:
        lines += [_fence(item.block), ""]
    return lines


def _paragraph(said: Said) -> str:
    text = f"`{_code(said.text)}`" if said.verbatim and said.text else said.text
    title = said.title[:1].upper() + said.title[1:]
    if not title:
        return text
    if said.facts:
        head = f"**{title}** ({', '.join(said.facts)})"
        return f"{head}: {text}" if text else head
    return f"**{title}:** {text}" if text else f"**{title}**"


def _turn(turn: Turn) -> list[str]:
    """What the model said and called, whether its reply was cut off or called no tool, and
    what the turn spent."""
    lines = []
    for said in (turn.said, turn.thinking):
        if said is not None and said.text:
            lines += [_paragraph(said), ""]
    for call in turn.calls:
        lines += [f"**Tool call** `{call.name}` `{_code(call.arguments)}`", ""]
    if turn.missing_call:
        missing = turn.missing_call[:1].upper() + turn.missing_call[1:]
        lines += [f"**{missing}** (an invalid turn: the model was told to call one)", ""]
    if turn.cut_off_by:
        stop = f" (stop reason `{turn.stop_reason}`)" if turn.stop_reason else ""
        lines += [f"**Cut off** by {turn.cut_off_by}{stop}: the model was told so", ""]
    if turn.spent:
        lines += [f"*Tokens: {', '.join(turn.spent)}*", ""]
    return lines


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def _code(text: str) -> str:
    """``text`` fit to stand between backticks."""
    return text.replace("`", "'")
