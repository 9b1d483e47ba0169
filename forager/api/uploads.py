"""Trajectory uploads: the body read under the size limit, parsed by the one strict parser
(``forager.trajectory.fileformat``), and stored once per Idempotency-Key.

A refused body is an ``UploadError`` carrying its HTTP status (413 too large, 415 unsupported
content type, 422 not a valid trajectory) and the detail the client is answered; an
Idempotency-Key reused with another trajectory is a 409.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy.exc import IntegrityError

from forager.api.schemas import UploadOut
from forager.enums import Origin
from forager.errors import InvalidInput
from forager.redact import redact_url
from forager.store import trajectories as stored
from forager.store.tokens import TokenInfo
from forager.trajectory import fileformat
from forager.trajectory.checks import FormatError, TooLarge
from forager.trajectory.schema import Trajectory
from forager.trajectory.store import check_indexed, save

JSON_TYPES = ("application/json",)
LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/gzip",
               "application/x-gzip", "application/octet-stream")
UPLOAD_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Trajectory"}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "The .jsonl file format"}},
        "application/gzip": {"schema": {"type": "string", "format": "binary",
                                        "description": "The .jsonl.gz file format"}},
    },
}
"""The request body as the OpenAPI contract describes it (the route reads the raw body itself)."""


class UploadError(InvalidInput):
    """An upload refused: ``status`` is the HTTP status, ``detail`` what the client is answered."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status, self.detail = status, detail


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to pass ``limit`` bytes: by its
    Content-Length, or while it streams in (chunked)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadError(413, f"body of {declared} bytes is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadError(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_upload(body: bytes, content_type: str, limit: int) -> Trajectory:
    """Validate an uploaded trajectory whole; raises UploadError (4xx) saying what is wrong.
    ``application/json`` is one Trajectory object; the other accepted types are the .jsonl file
    format, gzip-compressed or not."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in JSON_TYPES + LINES_TYPES:
        raise UploadError(415, f"unsupported content type {ctype or '(none)'!r}; send application/json "
                               "(one Trajectory object), application/x-ndjson (.jsonl) or application/gzip "
                               "(.jsonl.gz)")
    try:
        loaded = fileformat.parse(body, strict=True, form="json" if ctype in JSON_TYPES else "lines",
                                  max_bytes=limit)
        check_indexed(loaded.trajectory)
    except TooLarge as exc:
        raise UploadError(413, exc.detail) from exc
    except FormatError as exc:
        raise UploadError(422, exc.detail) from exc
    return loaded.trajectory


def upload_id(token: TokenInfo, key: str | None) -> str | None:
    """The id an upload with an Idempotency-Key gets: fixed by the token and the key."""
    if not key:
        return None
    return "traj-" + hashlib.sha256(f"{token.id}\x00{key}".encode()).hexdigest()[:24]


def _stored_same(traj: Trajectory, traj_id: str) -> UploadOut | None:
    """For a retried upload (``traj_id`` fixed by the Idempotency-Key): the earlier answer if the
    same trajectory is stored under that id; 409 if another one is; None if nothing is."""
    row = stored.find(traj_id)
    if row is None:
        return None
    if row.sha256 != hashlib.sha256(fileformat.dumps(traj)).hexdigest():
        raise HTTPException(409, "Idempotency-Key reused with a different trajectory")
    return UploadOut(id=row.id, sha256=row.sha256, steps=row.steps, uploaded_id=None)


def store_upload(traj: Trajectory) -> UploadOut:
    """Store a validated upload (``traj.id`` is None, or fixed by an Idempotency-Key); a retry of a
    stored upload stores nothing and answers the same."""
    traj.model.url = redact_url(traj.model.url)
    if traj.id and (same := _stored_same(traj, traj.id)):
        return same
    try:
        new_id = save(traj, Origin.UPLOAD)
    except IntegrityError:  # the same key, uploaded concurrently: the other one was stored
        if traj.id and (same := _stored_same(traj, traj.id)):
            return same
        raise
    row = stored.find(new_id)
    digest = row.sha256 if row else ""
    return UploadOut(id=new_id, sha256=digest, steps=len(traj.turns), uploaded_id=None)
