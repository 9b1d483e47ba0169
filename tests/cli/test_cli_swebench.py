"""``forager tasks export|import`` on bad input: clear errors and exit codes, never a traceback (no
Docker: nothing here reaches an image)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forager.cli.main import app


@pytest.fixture(autouse=True)
def no_reaper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("forager.jobs.reaper.reap", lambda: None)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_export_bad_input(tmp_path: Path) -> None:
    code, _, err = invoke("tasks", "export", str(tmp_path / "out.csv"))
    assert code == 2 and "as .jsonl or .parquet" in err
    code, _, err = invoke("tasks", "export", "--format", "chat", str(tmp_path / "out.jsonl"))
    assert code == 2 and "unknown format" in err
    code, _, err = invoke("tasks", "export", "-", "--format", "swebench")
    assert code == 2 and "not standard" in err
    code, _, err = invoke("tasks", "export", "--tasks", "colour=red", str(tmp_path / "out.jsonl"))
    assert code == 2 and "bad task filter term" in err
    code, out, _ = invoke("tasks", "export", str(tmp_path / "none.jsonl"), "--json")  # no tasks: an empty file
    assert code == 0 and json.loads(out)["exported"] == 0 and (tmp_path / "none.jsonl").read_text() == ""


def test_import_bad_input(tmp_path: Path) -> None:
    code, _, err = invoke("tasks", "import", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "no such file" in err
    code, _, err = invoke("tasks", "import", "x.jsonl", "--source", "no-equals-sign")
    assert code == 2 and "--source takes REPO=SPEC" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instance_id": "a"}\nnot json\n')
    code, out, _ = invoke("tasks", "import", str(bad), "--json")
    summary = json.loads(out)
    assert code == 1 and (summary["rows"], summary["rejected"], summary["imported"]) == (2, 2, 0)
    assert "repo: Field required" in summary["outcomes"][0]["reason"]
    assert summary["outcomes"][1]["reason"].startswith("line 2 is not JSON")
    code, _, err = invoke("tasks", "import", str(bad))
    assert code == 1 and "rejected a: " in err and "0 imported" in err
