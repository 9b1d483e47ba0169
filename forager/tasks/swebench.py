"""Tasks in the SWE-bench instance format: the row model, and reading and writing JSONL / Parquet.

A row has SWE-bench's columns (``instance_id, repo, base_commit, patch, test_patch,
problem_statement, hints_text, FAIL_TO_PASS, PASS_TO_PASS, version, created_at,
environment_setup_commit``; the list columns are JSON strings, as the published datasets and the
``swebench`` package write them) plus ``image_name`` and Forager's own columns (``setup_patch``,
``kind``, ``test_command``, ``image_digest``, ``contaminated``, ``evaluation_sets``). What
``base_commit`` and ``patch`` mean for Forager tasks is in ``swebench_export``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from forager.errors import InvalidInput
from forager.files import atomic_write

LIST_COLUMNS = ("FAIL_TO_PASS", "PASS_TO_PASS", "evaluation_sets")
"""Columns holding a list, written as a JSON string."""
MAX_TEST_ID = 2000
"""Longest test id a row may name."""
MAX_TEXT = 5_000_000
"""Longest patch or problem statement a row may carry (characters)."""
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


class SwebenchRow(BaseModel):
    """One task as a SWE-bench instance (unknown extra columns are kept, never required)."""

    model_config = ConfigDict(extra="allow")

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str = ""
    problem_statement: str
    hints_text: str = ""
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str] = []
    version: str = ""
    created_at: str = ""
    environment_setup_commit: str = ""
    image_name: str = ""
    setup_patch: str = ""
    """Forager: turns ``environment_setup_commit`` (the /repo HEAD of ``image_name``) into the task
    state, which is ``base_commit`` with ``test_patch`` applied."""
    kind: str = ""
    test_command: str = ""
    image_digest: str = ""
    contaminated: bool = False
    evaluation_sets: list[str] = []

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", "evaluation_sets", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        """A JSON string of a list (as SWE-bench writes them) or a list, of strings."""
        if value is None:
            return []
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except ValueError:
                raise ValueError("not a JSON list") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings")
        if any(len(v) > MAX_TEST_ID or "\n" in v or "\0" in v for v in value):
            raise ValueError("holds an over-long test id or one with a newline or NUL")
        return value

    @field_validator("FAIL_TO_PASS")
    @classmethod
    def _some_failing(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("is empty: a task needs a test that fails before the patch")
        return value

    @field_validator("base_commit", "environment_setup_commit")
    @classmethod
    def _commit(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not _COMMIT.match(value):
            raise ValueError("not a git commit id (7 to 40 hex digits)")
        return value

    @field_validator("instance_id", "repo", "base_commit", "patch", "problem_statement")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value

    @field_validator("patch", "test_patch", "setup_patch", "problem_statement", "hints_text")
    @classmethod
    def _bounded(cls, value: str) -> str:
        if len(value) > MAX_TEXT:
            raise ValueError(f"longer than {MAX_TEXT} characters")
        if "\0" in value:
            raise ValueError("holds a NUL character")
        return value

    def to_record(self) -> dict[str, Any]:
        """The row as written: list columns as JSON strings, extra columns kept."""
        data = self.model_dump()
        for key in LIST_COLUMNS:
            data[key] = json.dumps(data[key])
        return data


def parse_row(data: Any) -> SwebenchRow | str:
    """A row, or why it cannot be one (field by field)."""
    if not isinstance(data, dict):
        return f"not an object but {type(data).__name__}"
    try:
        return SwebenchRow.model_validate(data)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())


def row_label(data: Any, index: int) -> str:
    """How a row is named in reports: its instance_id when it has a usable one, else its number."""
    iid = data.get("instance_id") if isinstance(data, dict) else None
    return iid[:200] if isinstance(iid, str) and iid.strip() else f"row {index + 1}"


def read_rows(path: Path) -> list[Any]:
    """The raw rows of a ``.jsonl`` / ``.json`` / ``.parquet`` file: a line that is not JSON becomes
    the text of its error, so it is reported beside the others."""
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_table(path).to_pylist())
        except Exception as exc:  # noqa: BLE001 - any damage in the file is one clear error
            raise InvalidInput(f"{path} is not a readable Parquet file: {exc}") from None
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"{path} is not JSON: {exc}") from None
        if not isinstance(rows, list):
            raise InvalidInput(f"{path} holds no list of instances")
        return rows
    out: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError as exc:
            out.append(f"line {number} is not JSON: {exc}")
    return out


def write_rows(rows: list[SwebenchRow], out: Path) -> None:
    """``.jsonl`` (one instance per line) or ``.parquet``, written atomically."""
    records = [r.to_record() for r in rows]
    if out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = list(SwebenchRow.model_fields)
        schema = pa.schema([(n, pa.bool_() if n == "contaminated" else pa.string()) for n in names])
        table = pa.Table.from_pylist([{n: r[n] for n in names} for r in records], schema=schema)
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="zstd")
        atomic_write(out, buffer.getvalue().to_pybytes())
    elif out.suffix == ".jsonl":
        atomic_write(out, "".join(json.dumps(r) + "\n" for r in records).encode())
    else:
        raise InvalidInput(f"write {out.name!r} as .jsonl or .parquet")
