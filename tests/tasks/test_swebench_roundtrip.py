"""SWE-bench export and import in real containers: the minipkg task exported and imported into a
fresh registry (the same task), its base_commit reproduced independently, tampered rows refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from forager.config import reset_settings
from forager.store import db
from forager.store.tasks_db import get_task
from forager.tasks.swebench import SwebenchRow, parse_row, read_rows
from forager.tasks.swebench_export import export_swebench
from forager.tasks.swebench_git import STATE_ENV, STATE_MESSAGE
from forager.tasks.swebench_import import import_swebench

pytestmark = pytest.mark.docker


def _rows(path: Path) -> list[SwebenchRow]:
    rows = [parse_row(r) for r in read_rows(path)]
    assert all(isinstance(r, SwebenchRow) for r in rows), rows
    return rows  # type: ignore[return-value]


def fresh_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated: Path, build: Any,
                   runtime: Any) -> Path:
    """A new FORAGER_HOME holding only the minipkg image (no tasks)."""
    home = tmp_path / "fresh-home"
    home.mkdir()
    shutil.copyfile(migrated, home / "forager.db")
    monkeypatch.setenv("FORAGER_HOME", str(home))
    reset_settings()
    with db.session() as s:
        s.merge(db.Build(id=build.build_id, source=build.source, status="validated", image=build.image,
                         test_command=build.test_command))
        s.flush()
        s.merge(db.Image(id=build.image, build_id=build.build_id, digest=runtime.image_digest(build.image) or "",
                         source=build.source, python=build.python or "3.11", test_command=build.test_command))
    return home


def _state_commit_by_hand(runtime: Any, image: str, setup_patch: str) -> tuple[str, str]:
    """(HEAD, the commit `git apply` + `git commit` make with the documented identity and date),
    computed without Forager's code."""
    env = " ".join(f"{k}='{v}'" for k, v in STATE_ENV.items())
    with runtime.start(image) as box:
        box.put_files({"/tmp/setup.patch": setup_patch.encode()})
        res = box.exec(f"git update-index -q --refresh; git rev-parse HEAD && git apply --index /tmp/setup.patch "
                       f"&& {env} git commit -q -m '{STATE_MESSAGE}' && git rev-parse HEAD", 120, workdir="/repo")
        assert res.ok, res.output
        head, state = res.output.split()[-2:]
        return head, state


def test_minipkg_round_trip(task: Any, minipkg_build: Any, runtime: Any, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch, migrated_registry: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    exported = export_swebench(out)
    assert exported.exported == [task.id] and not exported.skipped
    [row] = _rows(out)
    assert row.image_name == minipkg_build.image and row.patch == task.gold_patch
    assert row.setup_patch == task.setup_patch and row.test_patch == "" and row.kind == "mutate-fix"
    assert (task.fail_to_pass, task.pass_to_pass) == (row.FAIL_TO_PASS, row.PASS_TO_PASS)
    assert row.contaminated is False and row.instance_id.endswith(task.id)
    head, state = _state_commit_by_hand(runtime, minipkg_build.image, task.setup_patch)
    assert (row.environment_setup_commit, row.base_commit) == (head, state)

    fresh_registry(tmp_path, monkeypatch, migrated_registry, minipkg_build, runtime)
    assert get_task(task.id) is None
    result = import_swebench(out)
    [outcome] = result.outcomes
    assert outcome.status == "imported", outcome
    new = get_task(outcome.task_id or "")
    assert new is not None and new.id != task.id
    for name in ("image_id", "kind", "setup_patch", "gold_patch", "test_patch", "fail_to_pass", "pass_to_pass",
                 "problem_statement"):
        assert getattr(new, name) == getattr(task, name), name
    assert new.meta["origin"] == "imported" and new.meta["instance_id"] == row.instance_id and new.fingerprint

    again = tmp_path / "again.parquet"  # exported again from the new registry: the same state commit
    assert export_swebench(again).exported == [new.id]
    [row2] = _rows(again)
    assert (row2.base_commit, row2.environment_setup_commit, row2.setup_patch) == (
        row.base_commit, row.environment_setup_commit, row.setup_patch)
    dup = import_swebench(again)  # the same task again: reported, not stored twice
    assert [(o.status, o.task_id) for o in dup.outcomes] == [("duplicate", new.id)]


def _tampered(row: SwebenchRow) -> list[dict[str, Any]]:
    base = row.to_record()
    f2p, p2p = row.FAIL_TO_PASS, row.PASS_TO_PASS
    return [
        {**base, "instance_id": "wrong-base", "base_commit": row.environment_setup_commit},
        {**base, "instance_id": "gold-does-not-apply", "patch": row.patch.replace("len(values)", "len(vals)")},
        {**base, "instance_id": "f2p-passes", "FAIL_TO_PASS": json.dumps(p2p[:1]), "PASS_TO_PASS": json.dumps(f2p)},
        {**base, "instance_id": "p2p-missing", "PASS_TO_PASS": json.dumps([*p2p, "tests/test_calc.py::nope"])},
        {**base, "instance_id": "setup-does-not-apply", "setup_patch": row.patch},
        {**base, "instance_id": "unknown-repo", "image_name": "forager/none:1", "repo": "nobody/nothing"},
        {**base, "instance_id": "both-lists", "PASS_TO_PASS": json.dumps([*p2p, *f2p])},
    ]


def test_tampered_rows_are_rejected_with_their_reason(task: Any, tmp_path: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    export_swebench(out)
    [row] = _rows(out)
    with db.session() as s:  # the task itself leaves the registry, so only tampering can be refused
        s.delete(s.get(db.Task, task.id))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in _tampered(row)))
    reasons = {o.row: (o.status, o.reason) for o in import_swebench(bad).outcomes}
    assert reasons["wrong-base"][1].startswith("base_commit ") and "is not the state setup_patch makes" in \
        reasons["wrong-base"][1]
    assert reasons["gold-does-not-apply"][1].startswith("the gold patch does not apply")
    assert reasons["f2p-passes"][1].startswith("FAIL_TO_PASS passes before the gold patch")
    assert reasons["p2p-missing"][1] == "PASS_TO_PASS does not pass in the task state: tests/test_calc.py::nope"
    assert reasons["setup-does-not-apply"][1].startswith("setup_patch does not apply")
    assert reasons["unknown-repo"][1].startswith("no validated image of nobody/nothing")
    assert reasons["both-lists"][1] == "a test is both in FAIL_TO_PASS and PASS_TO_PASS"
    assert all(status == "rejected" for status, _ in reasons.values())
    with db.session() as s:
        assert s.query(db.Task).count() == 0


def test_contaminated_repositories_are_marked_and_can_be_left_out(task: Any, tmp_path: Path) -> None:
    with db.session() as s:  # the minipkg image, as if built from a repository of SWE-bench
        image = s.get(db.Image, task.image_id)
        assert image is not None
        image.source = "https://github.com/psf/requests.git"
    out = tmp_path / "all.parquet"
    assert export_swebench(out).exported == [task.id]
    [row] = _rows(out)
    assert row.repo == "psf/requests" and row.contaminated is True
    assert row.evaluation_sets == ["swe-bench", "swe-bench-verified"]
    assert row.instance_id == f"psf__requests-{task.id}"
    clean = export_swebench(tmp_path / "clean.jsonl", exclude_contaminated=True)
    assert (clean.exported, clean.excluded) == ([], [task.id]) and _rows(tmp_path / "clean.jsonl") == []
