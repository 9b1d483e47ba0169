"""``/v1/trajectories``: upload (validated whole, stored atomically), list, export, download."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from forager.api.deps import Cursor, Limit, Read, SettingsDep, UploadKey, Write
from forager.api.schemas import Page, TrajectorySummary, UploadOut
from forager.api.serving import canonical_json, export_line
from forager.api.uploads import UPLOAD_BODY, parse_upload, read_limited, store_upload, upload_id
from forager.errors import NotFound
from forager.store import trajectories as stored
from forager.trajectory.schema import is_id
from forager.trajectory.store import load_stored

router = APIRouter(prefix="/v1/trajectories", tags=["trajectories"])

TRAJ_REF = {"$ref": "#/components/schemas/Trajectory"}
BINARY = {"type": "string", "format": "binary"}
Filters = Annotated[stored.Filters, Query()]


@router.post("", response_model=UploadOut, status_code=201, openapi_extra={"requestBody": UPLOAD_BODY},
             responses={409: {"description": "Idempotency-Key reused with another trajectory"},
                        413: {"description": "Body over the size limit"},
                        415: {"description": "Unsupported content type"},
                        422: {"description": "Not a valid trajectory; the body says what is wrong"}})
async def upload_trajectory(request: Request, token: Write, settings: SettingsDep,
                            idempotency_key: UploadKey = None) -> UploadOut:
    """Store a trajectory produced anywhere. Accepts ``application/json`` (one Trajectory object,
    the schema ``GET /v1/trajectories/{id}`` answers), ``application/x-ndjson`` (the .jsonl file
    format), or ``application/gzip`` (.jsonl.gz). Unknown fields are refused. The whole upload is
    validated before anything is stored; the file is written atomically.

    Normalisation: the trajectory gets a new server id (the uploaded ``id`` is answered as
    ``uploaded_id``); fields left out get their defaults; numbers and times are re-encoded in
    their canonical form (e.g. ``1`` → ``1.0`` for a float field, times in ISO 8601). Uploading
    what ``GET`` answered, with ``id`` null, stores it byte for byte. Credentials in ``model.url``
    are removed before storing.

    Refused (422, nothing stored): NaN and infinite numbers, strings with lone surrogates,
    nesting deeper than 64 levels, NUL characters or over-long values in the indexed fields
    (task_id, image, repository, kind, agent, exit_reason, model.name), and a missing
    ``schema_version``. With an ``Idempotency-Key``, a retry answers the same id and stores
    nothing twice; the same key with another trajectory is a 409."""
    limit = settings.api_max_upload_bytes
    body = await read_limited(request, limit)
    traj = await run_in_threadpool(parse_upload, body, request.headers.get("content-type", ""), limit)
    uploaded_id, traj.id = traj.id, upload_id(token, idempotency_key)
    out = await run_in_threadpool(store_upload, traj)
    out.uploaded_id = uploaded_id
    return out


@router.get("", response_model=Page[TrajectorySummary])
def list_trajectories(_: Read, filters: Filters, limit: Limit = 50,
                      cursor: Cursor = None) -> Page[TrajectorySummary]:
    rows, nxt = stored.list_trajectories(filters, limit, cursor)
    return Page(items=[TrajectorySummary.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                             "description": "One Trajectory JSON object per line, newest first. A stored "
                                            "record that cannot be read is reported in its place as "
                                            '`{"id": ..., "export_error": ...}` (no `schema_version`).'}})
def export_trajectories(_: Read, filters: Filters,
                        limit: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:

    def lines() -> Iterator[bytes]:
        sent = 0
        for traj_id in stored.iter_ids(filters):
            if limit is not None and sent >= limit:
                return
            if line := export_line(traj_id):
                yield line
                sent += 1

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/{trajectory_id}",
            responses={200: {"content": {"application/json": {"schema": TRAJ_REF}},
                             "description": "The trajectory, canonical JSON (the schema POST takes)"}})
def get_trajectory(trajectory_id: str, _: Read) -> Response:
    # by registry id only: ids are never file paths (404 for anything else)
    try:
        loaded = load_stored(trajectory_id)
    except OSError as exc:
        raise NotFound(f"no trajectory {trajectory_id!r}") from exc
    error = loaded.error
    headers = {"X-Forager-Load-Error": error[:200].encode("ascii", "replace").decode()} if error else {}
    return Response(canonical_json(loaded.trajectory), media_type="application/json", headers=headers)


@router.get("/{trajectory_id}/raw",
            responses={200: {"content": {"application/gzip": {"schema": BINARY}},
                             "description": "The stored .jsonl.gz file, byte for byte"}})
def get_trajectory_raw(trajectory_id: str, _: Read) -> Response:
    row = stored.find(trajectory_id) if is_id(trajectory_id) else None
    if row is None or not Path(row.path).is_file():
        raise NotFound(f"no trajectory {trajectory_id!r}")
    return Response(Path(row.path).read_bytes(), media_type="application/gzip",
                    headers={"Content-Disposition": f'attachment; filename="{row.id}.jsonl.gz"',
                             "X-Forager-SHA256": row.sha256})

