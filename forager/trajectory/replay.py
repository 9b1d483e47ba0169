"""Replaying a trajectory: a terminal view, and re-execution in a fresh container with comparison.

The terminal view shows turns one at a time or all: the model's message, the action, the
observation (long ones folded), exit status, duration, diffs coloured. It reads files and stored
ids through the lenient reader, so a damaged or truncated file is shown as far as it is valid,
with the error marked where reading stopped.

Re-execution starts a fresh container from the recorded image (by digest), runs every recorded
action with the same tools the episode used (``forager.agent``), compares each observation with
the recorded one after normalising what legitimately varies (timings, temporary paths, addresses),
and re-runs the reward at the end.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.segment import Segments
from rich.text import Text

from forager.errors import ForagerError
from forager.trajectory.schema import Action, LoadResult, Reward, Trajectory, Turn, load

FOLD_HEAD = 20
FOLD_TAIL = 10


class ReplayError(ForagerError):
    """The trajectory or its image cannot be found or used."""


def open_trajectory(ref: str) -> LoadResult:
    """Load a trajectory by stored id or file path; a clear ``ReplayError`` when there is none."""
    try:
        return load(ref)
    except KeyError:
        raise ReplayError(f"no trajectory {ref!r}: no such file, and no stored trajectory has that id") \
            from None
    except OSError as exc:
        raise ReplayError(f"cannot read {ref!r}: {exc.strerror or exc}") from None


# ----------------------------------------------------------------------------- shared presentation
def fold(text: str, head: int = FOLD_HEAD, tail: int = FOLD_TAIL) -> tuple[str, int]:
    """Keep the first ``head`` and last ``tail`` lines; returns the text and how many lines were folded."""
    lines = text.splitlines()
    if len(lines) <= head + tail + 1:
        return text, 0
    folded = len(lines) - head - tail
    return "\n".join([*lines[:head], f"[... {folded} lines folded ...]", *lines[-tail:]]), folded


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


def _first(args: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in args and args[k] is not None:
            return args[k]
    return None


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
        extra = ""
        rng = _first(a, "view_range", "lines", "range")
        if action.tool == "view" and rng:
            extra = f" {rng}"
        elif action.tool == "view" and (a.get("start_line") or a.get("end_line")):
            extra = f" lines {a.get('start_line') or 1}-{a.get('end_line') or 'end'}"
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


def failing_tests(reward: Reward | None) -> list[tuple[str, str, str]]:
    """(group, test id, outcome) for every FAIL_TO_PASS / PASS_TO_PASS test that did not pass."""
    if reward is None:
        return []
    rows = [("FAIL_TO_PASS", t, o) for t, o in reward.fail_to_pass.items() if o != "passed"]
    rows += [("PASS_TO_PASS", t, o) for t, o in reward.pass_to_pass.items() if o != "passed"]
    return rows


# ----------------------------------------------------------------------------- terminal view
_DIFF_STYLE = {"add": "green", "del": "red", "hunk": "cyan", "file": "bold", "ctx": ""}


def diff_text(diff: str) -> Text:
    out = Text()
    for line in diff.splitlines():
        out.append(line + "\n", style=_DIFF_STYLE[diff_line_kind(line)])
    out.rstrip()
    return out


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


def render_turn(turn: Turn, full: bool = False, width: int = 100) -> Text:
    """One turn as a single styled text."""
    exit_style = "dim" if turn.exit_code is None else ("green" if turn.exit_code == 0 else "red")
    exit_label = "-" if turn.exit_code is None else str(turn.exit_code)
    tool = turn.action.tool if turn.action else "message"
    out = Text()
    out.append("── ", style="blue")
    out.append(f"step {turn.index} ", style="bold")
    out.append(clean(tool), style="magenta")
    out.append("  exit ")
    out.append(exit_label, style=exit_style)
    out.append(f"  {turn.duration_s:.2f}s ")
    out.append("─" * max(3, width - len(out.plain)) + "\n", style="blue")
    if turn.model_message.strip():
        out.append("model\n", style="bold blue")
        _append_body(out, clean(turn.model_message.strip()), full)
    if turn.action is not None:
        summary = clean(action_summary(turn.action))
        first_line = summary.splitlines()[0] if summary else ""
        out.append("action ", style="bold magenta")
        out.append(first_line[:300] + "\n")
        body = action_body(turn.action)
        if body and (action_diff(turn.action) is not None or summary != first_line or len(first_line) > 300):
            _append_body(out, clean(body), full)
    if turn.observation:
        _append_body(out, clean(turn.observation.rstrip("\n")), full, label="observation")
    out.rstrip()
    out.append("\n")
    return out


def print_text(console: Console, text: Text) -> None:
    """Print styled text as it is: no re-wrapping by rich (the terminal wraps long lines), which
    keeps a 1,000-step view fast."""
    console.print(Segments(text.render(console, end="")), end="", crop=False)


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


def render_outcome(result: LoadResult) -> RenderableType:
    t = result.trajectory
    parts: list[RenderableType] = [Rule(Text("outcome", style="bold"), align="left", style="blue")]
    if result.error:
        parts.append(render_error(result))
        if not t.complete and t.reward is None:
            return Group(*parts)
    r = t.reward
    line = Text.assemble(("exit reason ", "dim"), t.exit_reason or "-", ("  duration ", "dim"),
                         f"{t.duration_s:.1f}s  ")
    if r is None:
        line.append("no reward recorded", style="yellow")
    else:
        verdict = ("RESOLVED", "bold green") if r.resolved else ("NOT RESOLVED", "bold red")
        line.append(*verdict)
        f2p = sum(o == "passed" for o in r.fail_to_pass.values())
        p2p = sum(o == "passed" for o in r.pass_to_pass.values())
        line.append(f"  FAIL_TO_PASS {f2p}/{len(r.fail_to_pass)}  PASS_TO_PASS {p2p}/{len(r.pass_to_pass)}")
    parts.append(line)
    for group, test, outcome in failing_tests(r)[:30]:
        parts.append(Text.assemble(("  failing ", "red"), f"{group} {clean(test)} ", (clean(outcome), "red")))
    if t.final_diff.strip():
        parts += [Text("final diff", style="bold"), diff_text(clean(t.final_diff.rstrip("\n")))]
    return Group(*parts)


def render_error(result: LoadResult) -> Text:
    return Text.assemble(
        ("DAMAGED OR INCOMPLETE: ", "bold white on red"),
        (f"{result.error}", "red"),
        f"  (shown: {len(result.trajectory.turns)} steps from {result.valid_lines} valid lines)",
    )


def find_turn(traj: Trajectory, step: int) -> Turn:
    for turn in traj.turns:
        if turn.index == step:
            return turn
    indexes = [t.index for t in traj.turns]
    have = f"steps {min(indexes)}..{max(indexes)}" if indexes else "no steps"
    raise ReplayError(f"no step {step}: the trajectory has {have}")


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


def follow(ref: str, console: Console, full: bool = False, interval: float = 1.0,
           timeout: float | None = None) -> LoadResult:
    """Show the trajectory and keep showing new steps as its file grows, until its outcome line
    arrives (or ``timeout`` seconds pass); returns the last reading."""
    result = open_trajectory(ref)
    console.print(render_header(result))
    shown = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for turn in result.trajectory.turns[shown:]:
            print_text(console, render_turn(turn, full, console.width))
        shown = max(shown, len(result.trajectory.turns))  # a file caught mid-rewrite reads shorter
        finished = result.trajectory.complete and result.error is None
        if finished or (deadline is not None and time.monotonic() >= deadline):
            console.print(render_outcome(result))
            return result
        time.sleep(interval)
        result = open_trajectory(ref)


# ----------------------------------------------------------------------------- normalising
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_NORMALISERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]"), ""),  # ANSI colour and cursor codes
    (re.compile(r"\[\.\.\. \d+ characters elided \.\.\.\]"), "[... N characters elided ...]"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
     "<TIME>"),
    (re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:" + _MONTHS + r") +\d{1,2}\b"), "<DATE>"),
    (re.compile(r"\b(?:" + _MONTHS + r") +\d{1,2} +(?:\d{1,2}:\d{2}|\d{4})\b"), "<DATE>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<TIME>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:[kKMG]i?B/s|it/s|s/it)"), "<RATE>"),
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|min|mins|minutes?)\b"),
     "<DUR>"),
    (re.compile(r"\b(?:real|user|sys)\s+\d+m\d+(?:\.\d+)?s"), "<DUR>"),
    (re.compile(r"(?<![\w.])1[5-9]\d{8}(?:\d{3}|\.\d+)?(?![\w.])"), "<EPOCH>"),  # Unix times 2017-2033
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x<ADDR>"),
    (re.compile(r"\btmp[A-Za-z0-9_]{8}\b"), "tmpXXXXXXXX"),
    (re.compile(r"\bpytest-(\d+)\b"), "pytest-N"),
    (re.compile(r"/proc/\d+\b"), "/proc/<PID>"),
    (re.compile(r"\b(pid|PID|process)([ =:#]+)\d+\b"), r"\1\2<PID>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<SHA256>"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<SHA1>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<HEX12>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<UUID>"),
    (re.compile(r"(randomly-seed|random seed|seed)([ =:]+)\d+", re.I), r"\1\2<SEED>"),
    (re.compile(r"[ \t]+$", re.M), ""),
]


def normalise(text: str) -> str:
    """Replace what legitimately varies between two runs of the same command (timings, dates, Unix
    times, temporary paths, memory addresses, process ids, container ids and hashes, colour codes,
    trailing blanks) by fixed placeholders."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for pattern, repl in _NORMALISERS:
        text = pattern.sub(repl, text)
    return text.rstrip("\n")


@dataclass
class Comparison:
    same: bool
    detail: str = ""
    """For a divergence: the first differing lines (recorded ``-`` / replayed ``+``), normalised."""


def compare_observation(recorded: str, replayed: str, recorded_exit: int | None = None,
                        replayed_exit: int | None = None, context: int = 1,
                        max_lines: int = 12) -> Comparison:
    """Compare one recorded observation and exit status with the replayed ones, after normalising.
    An unknown recorded exit status (``None``, as outside agents often leave it) is not compared."""
    problems: list[str] = []
    if recorded_exit is not None and replayed_exit != recorded_exit:
        problems.append(f"exit status {recorded_exit} recorded, {replayed_exit} replayed")
    a, b = normalise(recorded), normalise(replayed)
    if a != b:
        diff = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "recorded", "replayed",
                                         n=context, lineterm=""))
        shown = diff[2:2 + max_lines]
        more = len(diff) - 2 - len(shown)
        problems.append("\n".join(shown + ([f"[... {more} more diff lines]"] if more > 0 else [])))
    return Comparison(not problems, "\n".join(problems))


def compare_reward(recorded: Reward | None, replayed: Reward | None) -> Comparison:
    """Same resolved flag and the same outcome for every FAIL_TO_PASS and PASS_TO_PASS test."""
    if recorded is None:
        return Comparison(True, "no reward recorded: nothing to compare")
    if replayed is None:
        return Comparison(False, "the reward could not be re-run")
    problems = []
    if recorded.resolved != replayed.resolved:
        problems.append(f"resolved {recorded.resolved} recorded, {replayed.resolved} replayed")
    for group, rec, rep in (("FAIL_TO_PASS", recorded.fail_to_pass, replayed.fail_to_pass),
                            ("PASS_TO_PASS", recorded.pass_to_pass, replayed.pass_to_pass)):
        for test in sorted(set(rec) | set(rep)):
            if rec.get(test) != rep.get(test):
                problems.append(f"{group} {test}: {rec.get(test, 'missing')} recorded, "
                                f"{rep.get(test, 'missing')} replayed")
    return Comparison(not problems, "\n".join(problems[:20]))


# ----------------------------------------------------------------------------- re-execution
@dataclass
class StepResult:
    index: int
    action: str
    status: str
    """match | diverged | no-action"""
    recorded_exit: int | None = None
    replayed_exit: int | None = None
    duration_s: float = 0.0
    detail: str = ""


@dataclass
class ReplayReport:
    trajectory: str
    image: str
    """What the container was started from (the recorded digest when present)."""
    reproduces: bool = False
    steps: list[StepResult] = field(default_factory=list)
    first_divergence: int | None = None
    reward: dict[str, Any] = field(default_factory=dict)
    """recorded / replayed resolved flags, whether they match, and the differences."""
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        out = {"match": 0, "diverged": 0, "no-action": 0}
        for s in self.steps:
            out[s.status] = out.get(s.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts
        return data


def resolve_image(traj: Trajectory, image_exists: Callable[[str], bool],
                  image_digest: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """The image reference to start from, and notes. The recorded digest wins; a tag is used only
    when no digest was recorded (outside agents) or when it still points to the recorded digest."""
    notes: list[str] = []
    if traj.image_digest and image_exists(traj.image_digest):
        return traj.image_digest, notes
    if traj.image and image_exists(traj.image):
        current = image_digest(traj.image)
        if traj.image_digest and current != traj.image_digest:
            raise ReplayError(f"the recorded image {traj.image_digest} is not on this engine, and the tag "
                              f"{traj.image} now points to {current}: refusing to replay on another image")
        if not traj.image_digest:
            notes.append(f"no image digest recorded: using the tag {traj.image} ({current})")
        return current or traj.image, notes
    wanted = " or ".join(x for x in (traj.image_digest, traj.image) if x) or "no image recorded"
    raise ReplayError(f"image not available on this engine: {wanted}")


def _task_spec(task_id: str | None) -> Any:
    """The task as the episode saw it (``agent.TaskSpec``), or None when it is not in this registry."""
    from forager.episode import agent

    if not task_id:
        return None
    try:
        return agent.task_spec(task_id)
    except KeyError:
        return None


def _image_test_command(image: str | None) -> str:
    from forager.store import db

    if not image:
        return ""
    with db.session() as s:
        row = s.get(db.Image, image)
        return row.test_command if row is not None else ""


def reexecute(ref: str, progress: Callable[[StepResult], None] | None = None) -> ReplayReport:
    """Re-run every recorded action in a fresh container from the recorded image, compare each
    observation (normalised) and exit status, then re-run the reward and compare it.

    The container, the task setup (its setup patch), the tools and the reward are the episode's own
    (``forager.agent``), so a replay does exactly what the agent's tools did."""
    from forager.episode import agent
    from forager.runtime.docker import EngineError, get_runtime

    started = time.monotonic()
    result = open_trajectory(ref)
    traj = result.trajectory
    report = ReplayReport(trajectory=traj.id or ref, image=traj.image_digest or traj.image or "")
    if result.error:
        report.notes.append(f"trajectory damaged or incomplete ({result.error}): "
                            f"replaying its {len(traj.turns)} valid steps")
    replayed_reward: Reward | None = None
    try:
        rt = get_runtime()
        report.image, notes = resolve_image(traj, rt.image_exists, rt.image_digest)
        report.notes += notes
        spec = _task_spec(traj.task_id)
        if traj.task_id and spec is None:
            report.notes.append(f"task {traj.task_id} is not in this registry: the task setup and the "
                                "reward are not re-run")
        name = f"forager-replay-{(traj.id or 'file')[-24:]}-{time.time_ns() % 10**6}"
        with agent.open_environment(report.image, name=name, task=spec) as env:
            if spec is None:
                env.test_command = _image_test_command(traj.image)
            recorded_user = traj.meta.get("sandbox_user")
            if recorded_user and recorded_user != env.user:
                report.notes.append(f"the episode ran as {recorded_user}, the replay as {env.user}")
            for turn in traj.turns:
                step = replay_turn(env, turn)
                report.steps.append(step)
                if progress:
                    progress(step)
            if spec is not None:
                replayed_reward = agent.compute_reward(env, spec)
    except (ReplayError, EngineError, agent.SandboxError) as exc:
        report.error = str(exc)
        report.duration_s = time.monotonic() - started
        return report
    diverged = [s.index for s in report.steps if s.status == "diverged"]
    report.first_divergence = diverged[0] if diverged else None
    if spec is not None:
        cmp = compare_reward(traj.reward, replayed_reward)
        report.reward = {
            "recorded": traj.reward.resolved if traj.reward else None,
            "replayed": replayed_reward.resolved if replayed_reward else None,
            "same": cmp.same, "detail": cmp.detail,
        }
    reward_ok = report.reward.get("same", True)
    report.reproduces = not diverged and reward_ok and result.error is None
    report.duration_s = time.monotonic() - started
    return report


def replay_turn(env: Any, turn: Turn) -> StepResult:
    """Execute one recorded action in ``env`` and compare with what was recorded. An action that
    was rejected without running (an ``error:`` observation and no exit status: a malformed call)
    matches when the replay rejects it too."""
    if turn.action is None:
        return StepResult(turn.index, "(no action)", "no-action", turn.exit_code)
    obs = env.execute(turn.action)
    summary = action_summary(turn.action).splitlines()[0][:200]
    rejected = (turn.exit_code is None and obs.exit_code is None
                and turn.observation.startswith("error:") and obs.output.startswith("error:"))
    if rejected:
        return StepResult(turn.index, summary, "match", None, None, round(obs.duration_s, 3),
                          "rejected without running, as recorded")
    cmp = compare_observation(turn.observation, obs.output, turn.exit_code, obs.exit_code)
    return StepResult(turn.index, summary, "match" if cmp.same else "diverged", turn.exit_code,
                      obs.exit_code, round(obs.duration_s, 3), cmp.detail)


def render_report(report: ReplayReport) -> RenderableType:
    """The per-step summary, the first divergence in full, and the reward comparison."""
    parts: list[RenderableType] = []
    style = {"match": "green", "diverged": "red", "no-action": "dim"}
    for s in report.steps:
        exits = f"exit {s.recorded_exit}->{s.replayed_exit}" if s.status != "no-action" else ""
        parts.append(Text.assemble(f"step {s.index:>4} ", (f"{s.status:<9}", style[s.status]),
                                   f" {exits:<14} {s.action[:90]}"))
    if report.first_divergence is not None:
        first = next(s for s in report.steps if s.index == report.first_divergence)
        parts += [Rule(Text(f"first divergence: step {first.index}", style="bold red"), align="left"),
                  diff_text(first.detail)]
    if report.reward:
        r = report.reward
        parts.append(Text.assemble(("reward ", "bold"), f"recorded resolved={r['recorded']} replayed "
                                   f"resolved={r['replayed']} ", ("same" if r["same"] else "DIFFERENT",
                                                                  "green" if r["same"] else "red")))
        if r["detail"] and not r["same"]:
            parts.append(Text(r["detail"], style="red"))
    for note in report.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if report.error:
        parts.append(Text(f"error: {report.error}", style="bold red"))
    c = report.counts
    verdict = ("REPRODUCES" if report.reproduces else "DOES NOT REPRODUCE")
    parts.append(Text.assemble((verdict, "bold green" if report.reproduces else "bold red"),
                               f"  {c['match']} match, {c['diverged']} diverged, "
                               f"{c['no-action']} without action"
                               f"  {report.duration_s:.1f}s  image {report.image}"))
    return Group(*parts)

