"""``forager tasks export`` filters and ``forager tasks verify`` on bad input, through the CLI
(no engine needed: the rows are written directly; verify needs none when nothing matches)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forager.cli.main import app
from forager.store import db


@pytest.fixture(autouse=True)
def no_reaper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("forager.jobs.reaper.reap", lambda: None)


def _rows() -> None:
    with db.session() as s:
        s.add(db.Build(id="build-1", source="pypi:requests==2.31.0", status="validated"))
        s.flush()
        s.add(db.Image(id="forager/requests:1", build_id="build-1", digest="", source="pypi:requests==2.31.0",
                       commit="abc", python="3.11", test_command="pytest"))
        s.flush()
        rows = [("operators", 1, True), ("constants", 3, True), ("operators", 5, False)]
        for i, (fam, f2p, dirty) in enumerate(rows):
            s.add(db.Task(id=f"task-{i}", image_id="forager/requests:1", kind="mutate-fix", family=fam,
                          setup_patch="x", gold_patch="y", fail_to_pass=[f"t::{j}" for j in range(f2p)],
                          pass_to_pass=["t::p"], meta={"contaminated": dirty, "lines_changed": 2 * f2p,
                                                      "files_changed": 1, "call_depth": 1}))


def test_export_filters_by_family_contamination_size(tmp_path: Path) -> None:
    _rows()
    out = tmp_path / "t.jsonl"

    def ids(*args: str) -> list[str]:
        res = CliRunner().invoke(app, ["tasks", "export", str(out), "--format", "forager", *args])
        assert res.exit_code == 0, res.output
        return [json.loads(line)["id"] for line in out.read_text().splitlines()]

    assert ids() == ["task-0", "task-1", "task-2"]
    assert ids("--family", "operators") == ["task-0", "task-2"]
    assert ids("--exclude-contaminated") == ["task-2"]
    assert ids("--min-fail-to-pass", "3", "--max-lines", "6") == ["task-1"]
    assert ids("--kind", "combined") == []
    row = json.loads(CliRunner().invoke(app, ["tasks", "export", "--family", "constants"]).stdout)
    assert row["FAIL_TO_PASS"] == ["t::0", "t::1", "t::2"] and row["fail_to_pass_count"] == 3
    assert row["contaminated"] is True and row["lines_changed"] == 6


def test_verify_with_nothing_to_check_and_unknown_ids() -> None:
    res = CliRunner().invoke(app, ["tasks", "verify", "--sample", "5", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["checked"] == 0
    res = CliRunner().invoke(app, ["tasks", "verify", "--task", "task-nope"])
    assert res.exit_code == 0 and "0 task(s) re-checked" in res.output


def test_generate_with_live_progress_reports_a_bad_image() -> None:
    res = CliRunner().invoke(app, ["tasks", "generate", "forager/nope:1", "--kind", "combined", "--max", "300"])
    assert res.exit_code == 1 and "no image" in res.output and "0 validated of 0 candidates" in res.output
