"""Writing export records to a file, atomically (``forager.files.atomic_write``): chat-format
JSONL, one record per line, or Parquet (one row per record, zstd)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forager.files import atomic_write

PARQUET_JSON_COLUMNS = ("messages", "reward")


def write_jsonl(records: list[dict[str, Any]], out: Path) -> None:
    text = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records)
    atomic_write(Path(out), text.encode())


def write_parquet(records: list[dict[str, Any]], out: Path) -> None:
    """One row per record; ``messages`` and ``reward`` are JSON strings (tool calls vary in shape)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("id", pa.string()), ("trajectory_id", pa.string()), ("task_id", pa.string()),
        ("repository", pa.string()), ("kind", pa.string()), ("image", pa.string()),
        ("agent", pa.string()), ("model", pa.string()), ("resolved", pa.bool_()),
        ("outcome", pa.string()), ("complete", pa.bool_()), ("exit_reason", pa.string()),
        ("steps", pa.int32()), ("num_tokens", pa.int64()), ("messages", pa.string()),
        ("final_diff", pa.string()), ("reward", pa.string()),
    ])
    rows = [{k: (json.dumps(r[k], sort_keys=True) if k in PARQUET_JSON_COLUMNS and r[k] is not None else r[k])
             for k in schema.names} for r in records]
    table = pa.Table.from_pylist(rows, schema=schema)
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer, compression="zstd")
    atomic_write(Path(out), buffer.getvalue().to_pybytes())


WRITERS = {"chat-jsonl": write_jsonl, "parquet": write_parquet}
"""Export format -> writer."""
