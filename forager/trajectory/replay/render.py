"""The terminal view of a trajectory (rich): turns with the model's message, the action, the
observation (long ones folded), exit status, duration and coloured diffs; the header, the outcome,
a damaged file's error where reading stopped, and the report of a re-execution.

Recorded text is made safe for a terminal first (``clean``): escape sequences never reach it.
"""

from __future__ import annotations

import re

from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.segment import Segments
from rich.text import Text

from forager.trajectory.fileformat import LoadResult
from forager.trajectory.present import (
    SUMMARY_CHARS,
    action_body,
    action_summary,
    diff_line_kind,
    exit_class,
    failing_tests,
    fold,
    looks_like_diff,
    shows_body,
)
from forager.trajectory.replay.execute import ReplayReport
from forager.trajectory.replay.loading import find_turn
from forager.trajectory.schema import Turn

_DIFF_STYLE = {"add": "green", "del": "red", "hunk": "cyan", "file": "bold", "ctx": ""}
_EXIT_STYLE = {"none": "dim", "passed": "green", "failed": "red"}
_STEP_STYLE = {"match": "green", "diverged": "red", "no-action": "dim"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Make recorded text safe for a terminal: colour and cursor sequences dropped, carriage
    returns turned into line ends, other control characters shown as ``?``."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("?", text) if _CONTROL.search(text) else text


def diff_text(diff: str) -> Text:
    out = Text()
    for line in diff.splitlines():
        out.append(line + "\n", style=_DIFF_STYLE[diff_line_kind(line)])
    out.rstrip()
    return out


def print_text(console: Console, text: Text) -> None:
    """Print styled text as it is: no re-wrapping by rich (the terminal wraps long lines), which
    keeps a 1,000-step view fast."""
    console.print(Segments(text.render(console, end="")), end="", crop=False)


# ----------------------------------------------------------------------------- turns
def _append_body(out: Text, text: str, full: bool, label: str = "") -> None:
    """Append a message, command or observation (a diff coloured, long ones folded) under an
    optional bold label that says how many lines were folded."""
    shown, folded = (text, 0) if full else fold(text)
    if label:
        note = f" ({folded} lines folded; --full shows all)" if folded else ""
        out.append(f"{label}{note}\n", style="bold")
    if looks_like_diff(text):
        out.append_text(diff_text(shown))
    elif folded:
        marker = f"[... {folded} lines folded ...]"
        head, _, tail = shown.partition(marker)
        out.append(head)
        out.append(marker, style="bold yellow")
        out.append(tail)
    else:
        out.append(shown)
    out.append("\n")


def _turn_head(turn: Turn, width: int) -> Text:
    exit_style = _EXIT_STYLE[exit_class(turn.exit_code)]
    out = Text()
    out.append("── ", style="blue")
    out.append(f"step {turn.index} ", style="bold")
    out.append(clean(turn.action.tool if turn.action else "message"), style="magenta")
    out.append("  exit ")
    out.append("-" if turn.exit_code is None else str(turn.exit_code), style=exit_style)
    out.append(f"  {turn.duration_s:.2f}s ")
    out.append("─" * max(3, width - len(out.plain)) + "\n", style="blue")
    return out


def render_turn(turn: Turn, full: bool = False, width: int = 100) -> Text:
    """One turn as a single styled text."""
    out = _turn_head(turn, width)
    if turn.model_message.strip():
        out.append("model\n", style="bold blue")
        _append_body(out, clean(turn.model_message.strip()), full)
    if turn.action is not None:
        summary = clean(action_summary(turn.action))
        first_line = summary.splitlines()[0] if summary else ""
        out.append("action ", style="bold magenta")
        out.append(first_line[:SUMMARY_CHARS] + "\n")
        body = action_body(turn.action)
        if body and shows_body(turn.action, summary):
            _append_body(out, clean(body), full)
    if turn.observation:
        _append_body(out, clean(turn.observation.rstrip("\n")), full, label="observation")
    out.rstrip()
    out.append("\n")
    return out


# ----------------------------------------------------------------------------- header and outcome
def render_error(result: LoadResult) -> Text:
    return Text.assemble(
        ("DAMAGED OR INCOMPLETE: ", "bold white on red"),
        (f"{result.error}", "red"),
        f"  (shown: {len(result.trajectory.turns)} steps from {result.valid_lines} valid lines)",
    )


def render_header(result: LoadResult) -> RenderableType:
    t = result.trajectory
    rows = [
        ("trajectory", t.id or "-"), ("task", t.task_id or "-"), ("repository", t.repository or "-"),
        ("image", f"{t.image or '-'} {t.image_digest or ''}".strip()), ("kind", t.kind or "-"),
        ("agent", f"{t.agent}  model {t.model.name or '-'}"), ("steps", str(len(t.turns))),
    ]
    text = Text()
    for k, v in rows:
        text.append(f"{k:>11} ", style="dim")
        text.append(clean(v) + "\n")
    parts: list[RenderableType] = [text]
    if result.error:
        parts.append(render_error(result))
    if t.problem_statement.strip():
        problem, _ = fold(t.problem_statement.strip(), 12, 3)
        parts += [Text("problem", style="bold"), Text(clean(problem))]
    return Group(*parts)


def _verdict_line(result: LoadResult) -> Text:
    t, r = result.trajectory, result.trajectory.reward
    line = Text.assemble(("exit reason ", "dim"), t.exit_reason or "-", ("  duration ", "dim"),
                         f"{t.duration_s:.1f}s  ")
    if r is None:
        line.append("no reward recorded", style="yellow")
        return line
    line.append(*(("RESOLVED", "bold green") if r.resolved else ("NOT RESOLVED", "bold red")))
    f2p = sum(o == "passed" for o in r.fail_to_pass.values())
    p2p = sum(o == "passed" for o in r.pass_to_pass.values())
    line.append(f"  FAIL_TO_PASS {f2p}/{len(r.fail_to_pass)}  PASS_TO_PASS {p2p}/{len(r.pass_to_pass)}")
    return line


def render_outcome(result: LoadResult) -> RenderableType:
    t = result.trajectory
    parts: list[RenderableType] = [Rule(Text("outcome", style="bold"), align="left", style="blue")]
    if result.error:
        parts.append(render_error(result))
        if not t.complete and t.reward is None:
            return Group(*parts)
    parts.append(_verdict_line(result))
    for group, test, outcome in failing_tests(t.reward)[:30]:
        parts.append(Text.assemble(("  failing ", "red"), f"{group} {clean(test)} ", (clean(outcome), "red")))
    if t.final_diff.strip():
        parts += [Text("final diff", style="bold"), diff_text(clean(t.final_diff.rstrip("\n")))]
    return Group(*parts)


def show(result: LoadResult, console: Console, step: int | None = None, full: bool = False) -> None:
    """Print a whole trajectory, or only step ``step``, to ``console``."""
    if step is not None:
        print_text(console, render_turn(find_turn(result.trajectory, step), full, console.width))
        if result.error:
            console.print(render_error(result))
        return
    console.print(render_header(result))
    for turn in result.trajectory.turns:
        print_text(console, render_turn(turn, full, console.width))
    console.print(render_outcome(result))


# ----------------------------------------------------------------------------- re-execution report
def _reward_lines(reward: dict[str, object]) -> list[RenderableType]:
    same = bool(reward["same"])
    parts: list[RenderableType] = [Text.assemble(
        ("reward ", "bold"), f"recorded resolved={reward['recorded']} replayed resolved={reward['replayed']} ",
        ("same" if same else "DIFFERENT", "green" if same else "red"))]
    if reward["detail"] and not same:
        parts.append(Text(str(reward["detail"]), style="red"))
    return parts


def render_report(report: ReplayReport) -> RenderableType:
    """The per-step summary, the first divergence in full, and the reward comparison."""
    parts: list[RenderableType] = []
    for s in report.steps:
        exits = f"exit {s.recorded_exit}->{s.replayed_exit}" if s.status != "no-action" else ""
        parts.append(Text.assemble(f"step {s.index:>4} ", (f"{s.status:<9}", _STEP_STYLE[s.status]),
                                   f" {exits:<14} {s.action[:90]}"))
    if report.first_divergence is not None:
        first = next(s for s in report.steps if s.index == report.first_divergence)
        parts += [Rule(Text(f"first divergence: step {first.index}", style="bold red"), align="left"),
                  diff_text(first.detail)]
    if report.reward:
        parts += _reward_lines(report.reward)
    parts += [Text(f"note: {note}", style="yellow") for note in report.notes]
    if report.error:
        parts.append(Text(f"error: {report.error}", style="bold red"))
    c = report.counts
    verdict = ("REPRODUCES" if report.reproduces else "DOES NOT REPRODUCE")
    parts.append(Text.assemble((verdict, "bold green" if report.reproduces else "bold red"),
                               f"  {c['match']} match, {c['diverged']} diverged, "
                               f"{c['no-action']} without action"
                               f"  {report.duration_s:.1f}s  image {report.image}"))
    return Group(*parts)
