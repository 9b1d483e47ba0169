"""SWE-bench rows without an engine: what is accepted and refused, the files written, and that
``datasets`` and the ``swebench`` package load them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forager.errors import InvalidInput
from forager.tasks.swebench import SwebenchRow, parse_row, read_rows, row_label, write_rows
from forager.tasks.swebench_export import instance_id, repo_name

COMMIT = "84030a33a4fa475b99c5d2dc141d6de98ee8cd05"
SWEBENCH_KEYS = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
                 "hints_text", "FAIL_TO_PASS", "PASS_TO_PASS", "version", "created_at", "image_name")


def raw(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "instance_id": "o__n-1", "repo": "o/n", "base_commit": COMMIT, "patch": "diff --git a/x b/x\n",
        "test_patch": "", "problem_statement": "it breaks", "hints_text": "",
        "FAIL_TO_PASS": '["tests/test_a.py::test_a"]', "PASS_TO_PASS": '["tests/test_a.py::test_b"]',
        "version": "1.0", "created_at": "2024-01-01T00:00:00Z"}
    row.update(changes)
    return row


def test_a_published_style_row_parses_with_lists_as_json_strings() -> None:
    row = parse_row(raw())
    assert isinstance(row, SwebenchRow)
    assert row.FAIL_TO_PASS == ["tests/test_a.py::test_a"] and row.PASS_TO_PASS == ["tests/test_a.py::test_b"]
    assert parse_row(raw(FAIL_TO_PASS=["t::a"], PASS_TO_PASS=None)).PASS_TO_PASS == []  # type: ignore[union-attr]
    record = row.to_record()
    assert record["FAIL_TO_PASS"] == '["tests/test_a.py::test_a"]' and isinstance(record["PASS_TO_PASS"], str)


@pytest.mark.parametrize(("changes", "said"), [
    ({"FAIL_TO_PASS": "[not json"}, "FAIL_TO_PASS: Value error, not a JSON list"),
    ({"FAIL_TO_PASS": '{"a": 1}'}, "FAIL_TO_PASS: Value error, must be a list of strings"),
    ({"PASS_TO_PASS": "[1, 2]"}, "PASS_TO_PASS: Value error, must be a list of strings"),
    ({"FAIL_TO_PASS": "[]"}, "FAIL_TO_PASS: Value error, is empty"),
    ({"FAIL_TO_PASS": json.dumps(["a\nb"])}, "newline"),
    ({"base_commit": "main; rm -rf /"}, "base_commit: Value error, not a git commit id"),
    ({"base_commit": ""}, "base_commit"),
    ({"patch": "   "}, "patch: Value error, is empty"),
    ({"repo": 7}, "repo: Input should be a valid string"),
    ({"test_patch": "x" * 5_000_001}, "test_patch: Value error, longer than 5000000 characters"),
    ({"patch": "diff\0"}, "patch: Value error, holds a NUL character"),
])
def test_malformed_rows_are_refused_with_the_field_and_reason(changes: dict[str, object], said: str) -> None:
    reason = parse_row(raw(**changes))
    assert isinstance(reason, str) and said in reason


def test_missing_fields_and_non_objects_are_named() -> None:
    row = raw()
    del row["patch"], row["FAIL_TO_PASS"]
    reason = parse_row(row)
    assert isinstance(reason, str) and "patch: Field required" in reason and "FAIL_TO_PASS: Field required" in reason
    assert parse_row(["a list"]) == "not an object but list"
    assert row_label(["x"], 4) == "row 5" and row_label({"instance_id": "a"}, 0) == "a"


def test_read_rows_keeps_bad_lines_as_their_error(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(raw()) + "\n\n{oops\n" + json.dumps([1]) + "\n")
    rows = read_rows(path)
    assert len(rows) == 3 and isinstance(rows[0], dict) and rows[2] == [1]
    assert isinstance(rows[1], str) and rows[1].startswith("line 3 is not JSON")
    with pytest.raises(InvalidInput, match="no such file"):
        read_rows(tmp_path / "missing.jsonl")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        read_rows(tmp_path / "bad.parquet")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    with pytest.raises(InvalidInput, match="no list of instances"):
        read_rows(tmp_path / "obj.json")


def _rows() -> list[SwebenchRow]:
    one = parse_row(raw(image_name="forager/x:1", setup_patch="diff", kind="mutate-fix",
                        contaminated=True, evaluation_sets=["swe-bench"]))
    two = parse_row(raw(instance_id="o__n-2", PASS_TO_PASS="[]"))
    assert isinstance(one, SwebenchRow) and isinstance(two, SwebenchRow)
    return [one, two]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_written_files_read_back_and_load_with_datasets_and_swebench(tmp_path: Path, suffix: str) -> None:
    from datasets import load_dataset
    from swebench.harness.utils import load_swebench_dataset

    out = tmp_path / f"tasks{suffix}"
    write_rows(_rows(), out)
    back = [parse_row(r) for r in read_rows(out)]
    assert back == _rows()
    ds = load_dataset("json" if suffix == ".jsonl" else "parquet", data_files=str(out), split="train",
                      cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == 2 and set(SWEBENCH_KEYS) <= set(ds.column_names)
    assert ds.features["FAIL_TO_PASS"].dtype == "string"  # JSON strings, as the published sets
    assert json.loads(ds[0]["FAIL_TO_PASS"]) == ["tests/test_a.py::test_a"] and ds[0]["contaminated"] is True
    loaded = load_swebench_dataset(str(out))
    assert [i["instance_id"] for i in loaded] == ["o__n-1", "o__n-2"]
    assert json.loads(loaded[1]["PASS_TO_PASS"]) == [] and loaded[0]["base_commit"] == COMMIT


def test_write_refuses_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=".jsonl or .parquet"):
        write_rows(_rows(), tmp_path / "x.csv")


def test_repo_names_and_instance_ids() -> None:
    assert repo_name("https://github.com/pallets/click.git") == "pallets/click"
    assert repo_name("pypi:toolz==1.0.0") == "pypi:toolz==1.0.0"
    assert repo_name("/tmp/work/tinyinv/") == "local/tinyinv"
    assert instance_id("pallets/click", "task-1") == "pallets__click-task-1"
    assert instance_id("pypi:toolz==1.0.0", "task-1") == "pypi_toolz__1.0.0-task-1"
