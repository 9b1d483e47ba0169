"""``/v1/traces``: stored execution traces, listed (filtered, paged), fetched whole, exported as
JSONL (near-duplicates removed per repository, the contamination flag on each record). Read
scope, like trajectories. Collection is long work and runs from the CLI or a campaign stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from forager.api.deps import Cursor, Limit, Read
from forager.api.schemas import Orm, Page, Shown
from forager.errors import NotFound
from forager.store import traces as stored
from forager.traces.dedup import THRESHOLD
from forager.traces.export import TraceExportStats, record, selected_records
from forager.traces.frames import Frame

router = APIRouter(prefix="/v1/traces", tags=["traces"])
Filters = Annotated[stored.TraceFilters, Query()]


class TraceSummary(Orm):
    id: str
    image_id: str
    repository: Shown
    path: str
    function: str
    first_line: int
    test: str
    kind: str
    status: str
    n_frames: int
    size_bytes: int
    created_at: datetime


class TraceOut(BaseModel):
    """One trace whole: the function's source, and its frames (locals as diffs: ``".."`` is a value
    unchanged since the previous frame)."""

    id: str
    repository: Shown
    image: str
    path: str
    function: str
    first_line: int
    test: str
    kind: str
    caller: str | None
    status: str
    engine: str
    python: str
    n_frames: int
    fingerprint: str
    contaminated: bool = Field(description="The repository is in a public evaluation set.")
    evaluation_sets: list[str]
    source: str
    frames: list[Frame]


@router.get("", response_model=Page[TraceSummary])
def list_traces(_: Read, filters: Filters, limit: Limit = 50, cursor: Cursor = None) -> Page[TraceSummary]:
    rows, nxt = stored.list_traces(filters, limit, cursor)
    return Page(items=[TraceSummary.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                             "description": "One trace (the schema of GET /v1/traces/{id}) per line, by id; "
                                            "near-duplicates removed per repository."}})
def export_traces(_: Read, filters: Filters,
                  exclude_contaminated: bool = False,
                  threshold: Annotated[float, Query(gt=0, le=1)] = THRESHOLD,
                  limit: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
    records = selected_records(filters, TraceExportStats(), threshold, not exclude_contaminated)

    def lines() -> Iterator[bytes]:
        for r in records[:limit]:
            yield (json.dumps(r, sort_keys=True) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/{trace_id}", response_model=TraceOut)
def get_trace(trace_id: str, _: Read) -> dict[str, Any]:
    row = stored.find(trace_id)
    if row is None:
        raise NotFound(f"no trace {trace_id!r}")
    return record(row)
