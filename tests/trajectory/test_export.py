"""Exports of stored trajectories (no Docker): chat JSONL, Parquet, filters, per-repository dedup."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pyarrow.parquet as pq

from forager.trajectory.dedup import actions_text, minhash
from forager.trajectory.export import export
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn
from forager.trajectory.store import save


def make(repo: str, commands: list[str], resolved: bool, kind: str = "mutate-fix",
         text_mode: bool = False, complete: bool = True) -> str:
    turns = [Turn(index=i, model_message=f"step {i}", observation=f"out {i}", exit_code=0,
                  action=Action(tool="bash", args={"command": c}, call_id=f"c{i}"))
             for i, c in enumerate(commands)]
    turns.append(Turn(index=len(turns), action=Action(tool="submit"), observation="submitted", exit_code=0))
    traj = Trajectory(task_id=f"task-{repo}", repository=repo, kind=kind, system_prompt="You fix bugs.",
                      problem_statement="mean() is wrong", turns=turns, exit_reason="submitted",
                      model=ModelInfo(name="m", sampling={"tool_mode": "text" if text_mode else "native"}),
                      reward=Reward(resolved=resolved), complete=complete)
    return save(traj)


def script(topic: str, n: int = 12) -> list[str]:
    return [f"grep -rn {topic}_{i} src/{topic}/module_{i}.py | head -n {i}" for i in range(n)]


def test_export_chat_jsonl_dedup_and_flags(tmp_path: Path) -> None:
    base = script("alpha")
    near = base[:-1] + ["python -m pytest -q tests/test_alpha.py"]  # one action of twelve differs
    a = make("repo-a", base, resolved=False)
    a_dup = make("repo-a", near, resolved=True)
    a_other = make("repo-a", script("beta"), resolved=False, kind="implement-feature")
    b_same = make("repo-b", base, resolved=False)  # same actions, another repository: kept
    incomplete = make("repo-b", script("gamma"), resolved=False, complete=False)
    text = make("repo-c", script("delta"), resolved=True, text_mode=True)

    out = tmp_path / "out.jsonl"
    stats = export(out, "chat-jsonl")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    by_traj = {r["trajectory_id"]: r for r in records}
    # the resolved one of the near-duplicate pair is kept; the other repository keeps its copy
    assert set(by_traj) == {a_dup, a_other, b_same, text}
    assert stats.duplicate_of == {a: a_dup} and stats.duplicates == 1 and incomplete not in by_traj
    assert by_traj[a_other]["resolved"] is False and by_traj[a_other]["outcome"] == "unresolved"
    assert stats.resolved == 2 and stats.unresolved == 2 and stats.written == 4
    # chat format: agent turns with tool calls, environment turns as tool messages
    msgs = by_traj[a_dup]["messages"]
    assert [m["role"] for m in msgs[:4]] == ["system", "user", "assistant", "tool"]
    assert msgs[2]["tool_calls"][0]["function"]["name"] == "bash"
    assert msgs[3]["tool_call_id"] == msgs[2]["tool_calls"][0]["id"]
    assert "[exit code: 0]" in msgs[3]["content"]
    assert [m["role"] for m in by_traj[text]["messages"][2:4]] == ["assistant", "user"]
    assert all(r["num_tokens"] > 50 for r in records)
    # every kept pair within a repository is below the Jaccard threshold
    for r1, r2 in itertools.combinations(records, 2):
        if r1["repository"] == r2["repository"]:
            from forager.trajectory.store import load

            t1, t2 = (load(r["trajectory_id"]).trajectory for r in (r1, r2))
            assert minhash(actions_text(t1)).jaccard(minhash(actions_text(t2))) < 0.5
    # stable ids and stable output
    first = out.read_text()
    export(out, "chat-jsonl")
    assert out.read_text() == first

    # filters
    stats = export(tmp_path / "resolved.jsonl", "chat-jsonl", resolved_only=True)
    assert stats.written == 2
    stats = export(tmp_path / "kind.jsonl", "chat-jsonl", kind="implement-feature")
    lines = (tmp_path / "kind.jsonl").read_text().splitlines()
    assert [json.loads(x)["trajectory_id"] for x in lines] == [a_other]
    stats = export(tmp_path / "repo.jsonl", "chat-jsonl", repository="repo-b", include_incomplete=True)
    assert stats.written == 2


def test_export_parquet(tmp_path: Path) -> None:
    ids = {make("repo-a", script("alpha"), resolved=True), make("repo-a", script("beta"), resolved=False)}
    out = tmp_path / "out.parquet"
    stats = export(out, "parquet")
    table = pq.read_table(out)
    assert stats.written == 2 and table.num_rows == 2
    rows = table.to_pylist()
    assert {r["trajectory_id"] for r in rows} == ids
    assert {r["outcome"] for r in rows} == {"resolved", "unresolved"}
    assert json.loads(rows[0]["messages"])[0]["role"] == "system"
    assert all(r["id"].startswith("rec-") and r["num_tokens"] > 0 for r in rows)


def test_export_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from forager.cli.main import app

    make("repo-a", script("alpha"), resolved=True)
    runner = CliRunner()
    result = runner.invoke(app, ["export", "--format", "parquet", "--json", str(tmp_path / "o.parquet")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1])["written"] == 1
    result = runner.invoke(app, ["export", "--format", "csv", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and not (tmp_path / "o.csv").exists()
    listed = runner.invoke(app, ["trajectories", "list", "--json"])
    [row] = json.loads(listed.stdout)
    shown = runner.invoke(app, ["trajectories", "show", row["id"]])
    assert shown.exit_code == 0 and "grep -rn alpha_0" in shown.stdout
