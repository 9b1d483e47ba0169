"""The page of one trajectory: its turns with collapsible observations, coloured diffs, the reward
with the failing tests first, and search within the trajectory (server-side with ``?q=``). Long
trajectories are shown ``PAGE_TURNS`` steps at a time; long texts are cut (``present.cut``: head
and tail kept). A damaged trajectory file is shown as far as it is valid, the error marked."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markupsafe import Markup

from forager.redact import redact_text
from forager.trajectory.fileformat import LoadResult
from forager.trajectory.present import (
    SUMMARY_CHARS,
    action_body,
    action_summary,
    cut,
    diff_line_kind,
    exit_class,
    looks_like_diff,
    shows_body,
)
from forager.trajectory.schema import Reward, Trajectory, Turn
from forager.web.templating import env, secs

OPEN_LINES = 15
"""Observations up to this many lines are shown open; longer ones start collapsed."""
PAGE_TURNS = 200
"""Steps shown at once: a 1,000-step trajectory opens on its first 200."""


def highlight(escaped: str, q: str) -> str:
    if not q:
        return escaped
    pattern = re.compile(re.escape(html.escape(q, quote=False)), re.I)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped)


def text_html(text: str, q: str = "") -> Markup:
    """Escaped text without credentials in URLs; a unified diff gets one coloured span per line."""
    text = redact_text(text)
    if looks_like_diff(text):
        lines = []
        for line in text.splitlines():
            kind = diff_line_kind(line)
            body = highlight(html.escape(line, quote=False), q)
            lines.append(f'<span class="d-{kind}">{body}</span>' if kind != "ctx" else body)
        return Markup("\n".join(lines))
    return Markup(highlight(html.escape(text, quote=False), q))


@dataclass
class TurnView:
    index: int
    tool: str
    status: str
    """passed | failed | none (the CSS class of its exit status)"""
    exit: str
    duration: str
    message: Markup
    summary: Markup
    body: Markup
    observation: Markup | None
    obs_lines: int
    elided: int
    open: bool


def turn_view(turn: Turn, q: str = "") -> TurnView:
    summary = action_summary(turn.action) if turn.action else ""
    body = action_body(turn.action) if turn.action else ""
    obs, elided = cut(turn.observation)
    lines = turn.observation.count("\n") + 1 if turn.observation else 0
    first_line = summary.splitlines()[0][:SUMMARY_CHARS] if summary else ""
    return TurnView(
        index=turn.index,
        tool=turn.action.tool if turn.action else "message",
        status=exit_class(turn.exit_code),
        exit="-" if turn.exit_code is None else str(turn.exit_code),
        duration=secs(turn.duration_s),
        message=text_html(cut(turn.model_message.strip())[0], q),
        summary=text_html(first_line, q),
        body=text_html(cut(body)[0], q) if body and shows_body(turn.action, summary) else Markup(""),
        observation=text_html(obs, q) if turn.observation else None,
        obs_lines=lines,
        elided=elided,
        open=lines <= OPEN_LINES or bool(q and q.lower() in turn.observation.lower()),
    )


def _matches(turn: Turn, q: str) -> bool:
    action = " ".join(str(v) for v in turn.action.args.values()) if turn.action else ""
    return q in "\n".join((turn.model_message, action, turn.observation)).lower()


def _step_bar(turns: list[Turn], on_page: set[int]) -> list[tuple[int, str, str, str]]:
    """(index, exit class, tool, link) of every step: a link within the page, or to its page."""
    return [(turn.index, exit_class(turn.exit_code), turn.action.tool if turn.action else "message",
             f"#step-{turn.index}" if turn.index in on_page
             else f"?start={i // PAGE_TURNS * PAGE_TURNS}#step-{turn.index}")
            for i, turn in enumerate(turns)]


def _tests(reward: Reward | None) -> list[tuple[str, str, str]]:
    """(group, test, outcome) of every judged test, failing ones first."""
    if reward is None:
        return []
    tests = [("FAIL_TO_PASS", k, v) for k, v in reward.fail_to_pass.items()]
    tests += [("PASS_TO_PASS", k, v) for k, v in reward.pass_to_pass.items()]
    tests.sort(key=lambda row: row[2] == "passed")
    return tests


def _passed(outcomes: dict[str, str]) -> int:
    return sum(o == "passed" for o in outcomes.values())


def _shown(t: Trajectory, q: str, start: int) -> list[TurnView]:
    if q:
        return [turn_view(turn, q) for turn in t.turns if _matches(turn, q.lower())]
    return [turn_view(turn) for turn in t.turns[start:start + PAGE_TURNS]]


def trajectory_page(result: LoadResult, q: str = "", start: int = 0) -> str:
    """The HTML of one trajectory (also used by the benchmark). Long trajectories are shown
    PAGE_TURNS steps at a time (the step bar links every step); a search spans all steps."""
    t = result.trajectory
    q = q.strip()
    n = len(t.turns)
    start = max(0, min(start, max(0, n - 1))) // PAGE_TURNS * PAGE_TURNS
    shown = _shown(t, q, start)
    pages = [] if q or n <= PAGE_TURNS else [
        (p, min(p + PAGE_TURNS, n) - 1, p == start) for p in range(0, n, PAGE_TURNS)]
    return env().get_template("trajectory.html").render(
        title=f"Trajectory {t.id or ''}", t=t, error=result.error, valid_lines=result.valid_lines,
        steps=_step_bar(t.turns, {v.index for v in shown}), n_turns=n, pages=pages, shown=shown, q=q,
        tests=_tests(t.reward),
        f2p_passed=_passed(t.reward.fail_to_pass) if t.reward else 0,
        p2p_passed=_passed(t.reward.pass_to_pass) if t.reward else 0,
        final_diff=text_html(cut(t.final_diff.rstrip("\n"))[0]) if t.final_diff.strip() else "",
    )
