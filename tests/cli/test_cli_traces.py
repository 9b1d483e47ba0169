"""``forager traces list|show|export|collect`` over stored traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from trace_seed import seed_traces
from typer.testing import CliRunner

from forager.cli.main import app
from forager.config import reset_settings


@pytest.fixture(autouse=True)
def no_reaper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("forager.jobs.reaper.reap", lambda: None)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout


def test_list_and_show_one_frame_or_all(tmp_path: Path) -> None:
    ids = seed_traces(tmp_path)
    code, out = run("traces", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and {r["id"] for r in rows} == set(ids)
    total = next(r["id"] for r in rows if r["function"] == "running_total")
    code, out = run("traces", "show", total, "--step", "5")
    assert code == 0
    assert "[5] line      line 13: out.append(total)" in out and "* total = 2" in out and "❱" in out
    code, out = run("traces", "show", total)
    assert code == 0 and out.count("\n[") == 15 and "-> [2, 6, 12]" in out
    assert run("traces", "show", total, "--step", "99")[0] == 2
    assert run("traces", "show", "trace-nothere")[0] == 1


def test_export_jsonl_and_parquet_with_filters(tmp_path: Path) -> None:
    seed_traces(tmp_path)
    seed_traces(tmp_path, image="forager/other:1", repository="pypi:requests==2.31.0")
    out = tmp_path / "t.jsonl"
    code, printed = run("traces", "export", str(out), "--json")
    assert code == 0 and json.loads(printed)["written"] == 6
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["contaminated"] for r in records} == {True, False}
    pq_out = tmp_path / "t.parquet"
    code, _ = run("traces", "export", str(pq_out), "--format", "parquet", "--exclude-contaminated")
    table = pq.read_table(pq_out).to_pylist()
    assert code == 0 and len(table) == 3 and all(not r["contaminated"] for r in table)
    assert json.loads(table[0]["frames"])[0]["event"] == "call"
    assert run("traces", "export", str(out), "--format", "csv")[0] == 2


def test_collect_from_an_unknown_image_fails_with_a_message() -> None:
    result = CliRunner().invoke(app, ["traces", "collect", "forager/none:1", "--json"])
    assert result.exit_code == 1
    assert "no image 'forager/none:1'" in json.loads(result.stdout)["error"]


@pytest.mark.docker
def test_collect_from_a_real_image_prints_its_summary(minipkg_build: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_HOME", str(minipkg_build.home))
    reset_settings()
    result = CliRunner().invoke(app, ["traces", "collect", minipkg_build.image, "--functions", "3",
                                      "--per-function", "1", "--seed", "11", "--json"])
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and summary["error"] is None, summary
    assert summary["functions"] == 3 and summary["collected"] == 3 and summary["engine"] == "settrace"
    listed = json.loads(CliRunner().invoke(app, ["traces", "list", "--image", minipkg_build.image, "--json"]).stdout)
    assert set(summary["trace_ids"]) <= {r["id"] for r in listed}
