"""Replay: the terminal view, the normaliser and comparator, and re-execution in real containers."""

from __future__ import annotations

import difflib
import gzip
import json
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from forager.cli.main import app
from forager.store import db
from forager.trajectory import replay
from forager.trajectory import schema as trajectory
from forager.trajectory.schema import Action, Reward, Trajectory, Turn

EDIT = Action(tool="edit", args={"path": "src/calc.py", "old_str": "return a - b", "new_str": "return a + b"})


def sample(steps: int = 4) -> Trajectory:
    turns = [
        Turn(
            index=0,
            model_message="Look around.",
            action=Action(tool="bash", args={"command": "ls"}),
            observation="src\ntests",
            exit_code=0,
            duration_s=0.2,
        ),
        Turn(index=1, model_message="Fix it.", action=EDIT, observation="edited", exit_code=0),
        Turn(
            index=2,
            model_message="Long output.",
            action=Action(tool="bash", args={"command": "seq 100"}),
            observation="\n".join(map(str, range(1, 101))),
            exit_code=0,
        ),
        Turn(
            index=3,
            model_message="Test.",
            action=Action(tool="run_tests", args={}),
            observation="F\n1 failed in 0.03s",
            exit_code=1,
            duration_s=1.5,
        ),
    ]
    return Trajectory(
        id="traj-sample",
        task_id="task-x",
        image="img:1",
        repository="demo",
        turns=turns[:steps],
        problem_statement="add is wrong",
        final_diff="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        reward=Reward(
            resolved=False,
            fail_to_pass={"tests/test_a.py::test_add": "failed"},
            pass_to_pass={"tests/test_a.py::test_sub": "passed"},
        ),
        exit_reason="submitted",
    )


def render(result: trajectory.LoadResult, **kw: object) -> str:
    buf = StringIO()
    replay.show(result, Console(file=buf, width=120, color_system=None), **kw)  # type: ignore[arg-type]
    return buf.getvalue()


# ----------------------------------------------------------------------------- terminal view
def test_view_shows_every_turn_folds_long_output_and_colours_diffs(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    trajectory.write(sample(), path)
    out = render(replay.open_trajectory(str(path)))
    for i in range(4):
        assert f"step {i} " in out
    assert "$ ls" in out and "+return a + b" in out and "-return a - b" in out
    assert "[... 70 lines folded ...]" in out and "\n100\n" in out
    assert "NOT RESOLVED" in out and "failing FAIL_TO_PASS tests/test_a.py::test_add failed" in out
    full = render(replay.open_trajectory(str(path)), full=True)
    assert "folded" not in full and "\n50\n" in full


def test_diff_colouring() -> None:
    text = replay.diff_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n c")
    styles = {text.plain[s.start : s.end].strip(): str(s.style) for s in text.spans}
    assert styles["-a"] == "red" and styles["+b"] == "green" and styles["@@ -1 +1 @@"] == "cyan"
    assert replay.looks_like_diff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b")
    assert not replay.looks_like_diff("- a list item\n+ not a diff")


def test_one_step_and_bad_step(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    trajectory.write(sample(), path)
    out = render(replay.open_trajectory(str(path)), step=3)
    assert "step 3 " in out and "step 2 " not in out and "1 failed" in out
    with pytest.raises(replay.ReplayError, match=r"no step 7: the trajectory has steps 0\.\.3"):
        render(replay.open_trajectory(str(path)), step=7)


def test_stored_id_and_missing_reference(tmp_path: Path) -> None:
    tid = trajectory.save(sample())
    assert "step 3 " in render(replay.open_trajectory(tid))
    with pytest.raises(replay.ReplayError, match="no trajectory"):
        replay.open_trajectory("traj-missing")


def test_truncated_file_is_shown_as_far_as_valid_with_the_error_marked(tmp_path: Path) -> None:
    raw = gzip.decompress(trajectory.dumps(sample()))
    cut = raw[: raw.index(b'"index": 3') + 5]  # the fourth turn's line is cut short
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)
    out = render(replay.open_trajectory(str(path)))
    assert "step 2 " in out and "step 3 " not in out
    assert out.count("DAMAGED OR INCOMPLETE: line 5") == 2  # at the top and where reading stopped
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(trajectory.dumps(sample())[:-30])
    assert "DAMAGED OR INCOMPLETE" in render(replay.open_trajectory(str(gz)))


def test_outside_agent_trajectory_as_one_json_object(tmp_path: Path) -> None:
    """Uploaded trajectories: one JSON object, unknown tools, no exit codes, no reward."""
    data = {
        "agent": "other-agent",
        "turns": [
            {
                "index": 1,
                "model_message": "thinking",
                "action": {"tool": "str_replace_editor", "args": {"command": "view", "path": "/repo"}},
                "observation": "a.py\nb.py",
            },
            {"index": 2, "model_message": "final answer, no tool"},
        ],
    }
    path = tmp_path / "upload.json"
    path.write_text(json.dumps(data))
    out = render(replay.open_trajectory(str(path)))
    assert 'str_replace_editor {"command": "view", "path": "/repo"}' in out
    assert "exit -" in out and "step 2 message" in out and "no reward recorded" in out


def test_follow_prints_new_steps_until_the_outcome(tmp_path: Path) -> None:
    traj = sample()
    path = tmp_path / "live.jsonl"
    lines = trajectory.to_lines(traj)
    path.write_text("\n".join(lines[:2]) + "\n")  # header and step 0

    def writer() -> None:  # rewrites in place (not atomically): readers may catch it empty or cut
        for n in range(3, len(lines) + 1):
            time.sleep(0.15)
            path.write_text("")
            time.sleep(0.06)
            path.write_text("\n".join(lines[:n]) + "\n")

    thread = threading.Thread(target=writer)
    thread.start()
    buf = StringIO()
    result = replay.follow(
        str(path), Console(file=buf, width=120, color_system=None), interval=0.05, timeout=20
    )
    thread.join()
    out = buf.getvalue()
    assert result.error is None
    assert [out.count(f"step {i} ") for i in range(4)] == [1, 1, 1, 1]  # each step printed once
    assert out.index("step 3 ") < out.index("NOT RESOLVED")


def test_cli_view_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    trajectory.write(sample(), path)
    runner = CliRunner()
    r = runner.invoke(app, ["replay", str(path), "--step", "1"])
    assert r.exit_code == 0 and "+return a + b" in r.stdout
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(gzip.decompress(trajectory.dumps(sample()))[:400])
    r = runner.invoke(app, ["replay", str(broken)])
    assert r.exit_code == 1 and "DAMAGED" in r.stdout
    assert runner.invoke(app, ["replay", "traj-nothing"]).exit_code == 2
    assert runner.invoke(app, ["replay", str(path), "--step", "99"]).exit_code == 2


# ----------------------------------------------------------------------------- normaliser, comparator
PYTEST_A = """============================= test session starts ==============================
platform linux -- Python 3.11.2, pytest-8.3.3, pluggy-1.5.0
rootdir: /repo
collected 3 items

tests/test_a.py ..F                                                      [100%]

    def test_tmp(tmp_path):
>       assert 0, (tmp_path, object())
E       AssertionError: (PosixPath('/tmp/pytest-of-forager/pytest-3/test_tmp0'),
E           <object object at 0x7f3a2c1e4f50>)
========================= 1 failed, 2 passed in 0.31s ==========================
"""


def test_normalise_removes_what_legitimately_varies() -> None:
    other = (
        PYTEST_A.replace("pytest-3", "pytest-11")
        .replace("0x7f3a2c1e4f50", "0x7f99aa001230")
        .replace("0.31s", "1.02s")
    )
    assert other != PYTEST_A and replay.normalise(PYTEST_A) == replay.normalise(other)
    pairs = [
        ("Wed Nov 25 09:13:29 UTC 2026", "Thu Nov 26 10:00:01 UTC 2026"),
        ("-rw-r--r-- 1 root root 12 Nov 25 09:13 a.py", "-rw-r--r-- 1 root root 12 Nov 26 11:02 a.py"),
        ("real\t0m0.005s\nuser\t0m0.001s", "real\t0m1.105s\nuser\t0m0.301s"),
        ("wrote /tmp/tmpab3_x9qz/out.txt", "wrote /tmp/tmpZZ01abcd/out.txt"),
        ("started at 2026-11-25T09:13:29.123456+00:00 (pid 4242)", "started at 2026-11-26 10:00:00 (pid 17)"),
        ("\x1b[31mFAILED\x1b[0m took 120ms  ", "FAILED took 3 ms"),
        (
            "[master 3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c] fix",
            "[master 0000000000000000000000000000000000000000] fix",
        ),
        ("Downloading 1.2 MB/s", "Downloading 800 kB/s"),
        ("/tmp/tmpk2j4x9ab 1795601396.5124533", "/tmp/tmp0a1b2c3d 1795601423.0671082"),
        ("ts=1795601396123", "ts=1795601423067"),
        ("line\r\nnext\n\n", "line\nnext"),
    ]
    for a, b in pairs:
        assert replay.normalise(a) == replay.normalise(b), (a, b)


def test_normalise_keeps_real_differences() -> None:
    for a, b in [
        ("1 failed, 2 passed", "3 passed"),
        ("x = 3", "x = 4"),
        ("/repo/src/a.py", "/repo/src/b.py"),
        ("exit 1", "exit 2"),
        ("value 10 s", "value 10 m"),
        ("v1.2.3", "v1.2.4"),
        ("id 1795601396", "id 1795601396x"),
        ("n = 12345678", "n = 12345679"),
    ]:
        assert replay.normalise(a) != replay.normalise(b), (a, b)


def test_compare_observation_reports_the_first_differing_lines() -> None:
    same = replay.compare_observation("ok in 0.1s", "ok in 9.9s", 0, 0)
    assert same.same and same.detail == ""
    diff = replay.compare_observation("a\nb\nc", "a\nB\nc", 0, 0)
    assert not diff.same and "-b\n+B" in diff.detail
    code = replay.compare_observation("a", "a", 0, 1)
    assert not code.same and "exit status 0 recorded, 1 replayed" in code.detail
    assert replay.compare_observation("a", "a", None, 5).same  # unknown recorded status: not compared


def test_compare_reward() -> None:
    rec = Reward(resolved=True, fail_to_pass={"t1": "passed"}, pass_to_pass={"t2": "passed"})
    assert replay.compare_reward(rec, rec.model_copy()).same
    other = Reward(resolved=False, fail_to_pass={"t1": "failed"}, pass_to_pass={"t2": "passed"})
    cmp = replay.compare_reward(rec, other)
    assert not cmp.same and "resolved True recorded, False replayed" in cmp.detail
    assert "FAIL_TO_PASS t1: passed recorded, failed replayed" in cmp.detail
    assert replay.compare_reward(None, other).same
    assert not replay.compare_reward(rec, None).same


def test_resolve_image_prefers_the_recorded_digest() -> None:
    present = {"sha256:aaa": "sha256:aaa", "img:1": "sha256:aaa", "img:2": "sha256:bbb"}
    exists, digest = present.__contains__, present.get
    t = Trajectory(image="img:1", image_digest="sha256:aaa")
    assert replay.resolve_image(t, exists, digest) == ("sha256:aaa", [])
    t = Trajectory(image="img:2")
    image, notes = replay.resolve_image(t, exists, digest)
    assert image == "sha256:bbb" and "no image digest recorded" in notes[0]
    with pytest.raises(replay.ReplayError, match="refusing"):
        replay.resolve_image(Trajectory(image="img:2", image_digest="sha256:ccc"), exists, digest)
    with pytest.raises(replay.ReplayError, match="image not available"):
        replay.resolve_image(Trajectory(image="img:9"), exists, digest)


# ----------------------------------------------------------------------------- re-execution (Docker)
def _patch(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}")
    return "".join(lines)


@pytest.fixture
def clamp_task(minipkg_build, runtime) -> str:  # type: ignore[no-untyped-def]
    """A task on the minipkg image: clamp() broken by the setup patch, fixed by the gold patch."""
    r = minipkg_build
    source = (Path(__file__).parent / "fixtures/minipkg/src/minipkg/calc.py").read_text()
    broken = source.replace("return max(low, min(value, high))", "return min(low, max(value, high))")
    path = "src/minipkg/calc.py"
    with db.session() as s:
        s.add(db.Build(id=r.build_id, source=r.source, status="validated", image=r.image))
        s.add(
            db.Image(
                id=r.image,
                build_id=r.build_id,
                digest=runtime.image_digest(r.image),
                source=r.source,
                python=r.python or "3.11",
                test_command=r.test_command,
            )
        )
        s.add(
            db.Task(
                id="task-clamp",
                image_id=r.image,
                kind="mutate-fix",
                setup_patch=_patch(path, source, broken),
                gold_patch=_patch(path, broken, source),
                fail_to_pass=["tests/test_calc.py::test_clamp"],
                pass_to_pass=["tests/test_calc.py::test_mean"],
                problem_statement="clamp is wrong",
            )
        )
    return "task-clamp"


@pytest.mark.docker
def test_oracle_trajectory_reproduces_and_tampering_is_found(clamp_task: str, tmp_path: Path) -> None:
    from forager.episode.agent import run_episode

    traj = run_episode(clamp_task, agent="oracle")
    assert traj.resolved and traj.image_digest
    report = replay.reexecute(traj.id or "")
    assert report.error is None, report.error
    assert report.reproduces, report.to_dict()
    assert report.counts["match"] == len(traj.turns) and report.reward["same"]
    assert report.image == traj.image_digest

    # a recorded observation and the reward changed: the first divergence and the reward are reported
    tampered = traj.model_copy(deep=True)
    tampered.turns[1].observation = tampered.turns[1].observation.replace("1 passed", "2 passed")
    tampered.reward = Reward(
        resolved=False,
        fail_to_pass={"tests/test_calc.py::test_clamp": "failed"},
        pass_to_pass={"tests/test_calc.py::test_mean": "passed"},
    )
    path = tmp_path / "tampered.jsonl.gz"
    trajectory.write(tampered, path)
    r = CliRunner().invoke(app, ["replay", str(path), "--execute", "--json"])
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert data["first_divergence"] == 1 and data["counts"] == {"match": 2, "diverged": 1, "no-action": 0}
    assert "-" in data["steps"][1]["detail"] and "2 passed" in data["steps"][1]["detail"]
    assert data["reward"]["same"] is False and data["reward"]["replayed"] is True


@pytest.mark.docker
def test_trajectory_without_task_or_digest_replays_its_steps(
    clamp_task: str, minipkg_build, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An outside agent's trajectory: image tag only, no task, no exit codes; one malformed call."""
    turns = [
        Turn(
            index=0,
            action=Action(tool="bash", args={"command": "cd /repo && grep -c def src/minipkg/calc.py"}),
            observation="4\n",
            exit_code=None,
        ),
        Turn(
            index=1,
            action=Action(tool="bash", args={"command": "date; echo $RANDOM > /dev/null; ls /tmp"}),
            observation="Mon Jan  5 10:00:00 UTC 2026\n",
            exit_code=0,
        ),
        Turn(index=2, model_message="no tool call"),
        Turn(
            index=3, action=Action(tool="frobnicate", args={}), observation="error: could not parse the call"
        ),
    ]
    traj = Trajectory(
        id="traj-outside", image=minipkg_build.image, agent="outside", turns=turns, exit_reason="done"
    )
    path = tmp_path / "outside.jsonl.gz"
    trajectory.write(traj, path)
    report = replay.reexecute(str(path))
    assert report.error is None, report.error
    assert [s.status for s in report.steps] == ["match", "diverged", "no-action", "match"], report.to_dict()
    assert report.first_divergence == 1 and not report.reproduces
    assert any("no image digest recorded" in n for n in report.notes)
    assert report.reward == {}


@pytest.mark.docker
def test_missing_image_is_a_clear_error(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.jsonl.gz"
    trajectory.write(Trajectory(image="forager/nope:none", image_digest="sha256:" + "0" * 64), path)
    report = replay.reexecute(str(path))
    assert report.error and "image not available" in report.error and not report.reproduces
    assert CliRunner().invoke(app, ["replay", str(path), "--execute"]).exit_code == 2


def test_recorded_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    traj = sample(1)
    traj.turns[0].observation = "\x1b[2J\x1b]0;owned\x07red \x1b[31mtext\x1b[0m\rprogress\x00"
    path = tmp_path / "esc.jsonl.gz"
    trajectory.write(traj, path)
    buf = StringIO()
    replay.show(replay.open_trajectory(str(path)), Console(file=buf, width=100, color_system="truecolor",
                                                           force_terminal=True))
    out = buf.getvalue()
    assert "\x1b[2J" not in out and "\x07" not in out and "\x00" not in out and "\r" not in out
    assert "red text\nprogress?" in out
