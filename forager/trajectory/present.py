"""How a trajectory's parts are presented, the same in the terminal, the web viewer and exports:
one-line action summaries, an action's body (command, diff or arguments), diff line kinds, the
two shortening policies (``fold`` by lines for the terminal, ``cut`` by characters for pages),
an observation with its exit code, and the failing tests of a reward.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from forager.trajectory.schema import Action, Reward

FOLD_HEAD = 20
FOLD_TAIL = 10
PAGE_CHARS = 20000
"""Longer texts are cut in the page (head and tail kept); the terminal view shows them whole."""
SUMMARY_CHARS = 300
"""An action summary longer than this (or on several lines) is shown with its body."""


# ----------------------------------------------------------------------------- shortening
def fold(text: str, head: int = FOLD_HEAD, tail: int = FOLD_TAIL) -> tuple[str, int]:
    """Keep the first ``head`` and last ``tail`` lines; returns the text and how many lines were folded."""
    lines = text.splitlines()
    if len(lines) <= head + tail + 1:
        return text, 0
    folded = len(lines) - head - tail
    return "\n".join([*lines[:head], f"[... {folded} lines folded ...]", *lines[-tail:]]), folded


def cut(text: str, limit: int = PAGE_CHARS) -> tuple[str, int]:
    """Keep the head and tail of a text longer than ``limit``; returns it and how much was left out."""
    if len(text) <= limit:
        return text, 0
    head = limit * 3 // 4
    left_out = len(text) - limit
    return f"{text[:head]}\n[... {left_out} characters not shown: `forager replay` shows all ...]\n" \
           f"{text[-(limit - head):]}", left_out


# ----------------------------------------------------------------------------- diffs
_DIFF_START = re.compile(r"^(diff --git |--- \S|\+\+\+ \S|@@ -\d)", re.M)


def looks_like_diff(text: str) -> bool:
    """True for unified diffs (git diff output, patches): a hunk header plus file headers or diff --git."""
    return "@@ -" in text and len(_DIFF_START.findall(text[:20000])) >= 2


def diff_line_kind(line: str) -> str:
    """One of add, del, hunk, file, ctx: the colour class of a line of a unified diff."""
    if line.startswith(("+++ ", "--- ", "diff --git", "index ")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return "ctx"


# ----------------------------------------------------------------------------- actions
def _first(args: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in args and args[k] is not None:
            return args[k]
    return None


def _view_range(a: dict[str, Any]) -> str:
    rng = _first(a, "view_range", "lines", "range")
    if rng:
        return f" {rng}"
    if a.get("start_line") or a.get("end_line"):
        return f" lines {a.get('start_line') or 1}-{a.get('end_line') or 'end'}"
    return ""


def action_summary(action: Action | None) -> str:
    """A one-line description of an action: ``$ command`` for bash, ``edit path`` for edits..."""
    if action is None:
        return "(no action)"
    a = action.args
    if action.tool == "bash":
        cmd = _first(a, "command", "cmd", "script")
        return f"$ {cmd}" if cmd is not None else "$ " + json.dumps(a)
    path = _first(a, "path", "file", "filename", "file_path")
    if action.tool in ("view", "edit", "create") and path is not None:
        extra = _view_range(a) if action.tool == "view" else ""
        return f"{action.tool} {path}{extra}"
    if action.tool == "run_tests":
        tests = _first(a, "tests", "test_ids", "args")
        return "run_tests" + (f" {tests}" if tests else "")
    if action.tool == "submit":
        return "submit"
    return f"{action.tool} {json.dumps(a, default=str)}" if a else action.tool


def action_diff(action: Action | None) -> str | None:
    """A unified diff showing what an edit or create action changes, when its arguments tell."""
    if action is None or action.tool not in ("edit", "create"):
        return None
    a = action.args
    path = str(_first(a, "path", "file", "filename", "file_path") or "file")
    if action.tool == "create":
        content = _first(a, "content", "file_text", "text")
        if not isinstance(content, str):
            return None
        old, new = "", content
    else:
        old = _first(a, "old_str", "old", "search", "old_text")
        new = _first(a, "new_str", "new", "replace", "new_text")
        if not isinstance(old, str) or not isinstance(new, str):
            return None
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm="")
    return "\n".join(lines)


def action_body(action: Action | None) -> str:
    """The action as text: the command for bash, the diff for edits, else its arguments as JSON."""
    if action is None:
        return ""
    if action.tool == "bash":
        cmd = _first(action.args, "command", "cmd", "script")
        if isinstance(cmd, str):
            return cmd
    diff = action_diff(action)
    if diff is not None:
        return diff
    return json.dumps(action.args, indent=2, default=str) if action.args else ""


def shows_body(action: Action | None, summary: str) -> bool:
    """Whether an action's body is shown below its one-line summary: edits (their diff), and
    summaries that one line cannot hold."""
    return action_diff(action) is not None or "\n" in summary or len(summary) > SUMMARY_CHARS


# ----------------------------------------------------------------------------- outcomes
def exit_class(exit_code: int | None) -> str:
    """passed | failed | none: how an exit status is coloured."""
    return "none" if exit_code is None else ("passed" if exit_code == 0 else "failed")


def observation_text(output: str, exit_code: int | None) -> str:
    """An observation as the model sees it (and exports keep it): the output, then its exit code."""
    status = "none" if exit_code is None else str(exit_code)
    return f"{output.rstrip()}\n[exit code: {status}]"


def failing_tests(reward: Reward | None) -> list[tuple[str, str, str]]:
    """(group, test id, outcome) for every FAIL_TO_PASS / PASS_TO_PASS test that did not pass."""
    if reward is None:
        return []
    rows = [("FAIL_TO_PASS", t, o) for t, o in reward.fail_to_pass.items() if o != "passed"]
    rows += [("PASS_TO_PASS", t, o) for t, o in reward.pass_to_pass.items() if o != "passed"]
    return rows
