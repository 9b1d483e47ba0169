"""The REST API (FastAPI): everything under ``/v1``, JSON, bearer tokens, paginated lists.

Long work (builds, task generation, agent runs) is never done inside a request: it becomes a
job (``forager.jobs``) and the request answers ``202`` with the job to poll at ``/v1/jobs/{id}``.

Lists are paginated by an opaque ``cursor``: each page answers ``next_cursor`` (null on the last
page), newest first. Uploaded trajectories are validated whole before anything is stored, and
stored atomically; see ``upload_trajectory`` for the accepted formats and the normalisation.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import math
import re
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from sqlalchemy import Select, and_, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from forager.clock import utcnow
from forager.config import get_settings
from forager.errors import InvalidInput
from forager.jobs import core as jobs
from forager.model.keys import hold_model_key, is_trusted_model_url
from forager.redact import redact, redact_text, redact_url
from forager.store import db, tokens
from forager.trajectory import fileformat
from forager.trajectory import schema as trajmod
from forager.trajectory import store as trajstore
from forager.trajectory.schema import Trajectory

API_VERSION = "1.0.0"
T = TypeVar("T")


# ----------------------------------------------------------------------------- models
class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class Orm(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Shown = Annotated[str, AfterValidator(redact_text)]
"""A text shown in a response: credentials in URLs inside it are replaced by ``***``."""
ShownJSON = Annotated[dict[str, Any], AfterValidator(redact)]


class RepositoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=500, examples=["https://github.com/pallets/itsdangerous.git"],
                        description="git URL, `pypi:NAME[==VERSION]`, or (admin scope) a server directory")


class RepositoryOut(Orm):
    id: str
    source: Shown
    name: str
    kind: str
    created_at: datetime


class BuildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=500, examples=["pypi:itsdangerous==2.2.0"])
    commit: str | None = Field(None, pattern=r"^[0-9A-Za-z._/-]{1,64}$")
    python: str | None = Field(None, pattern=r"^3\.\d{1,2}$", examples=["3.11"])


class JobOut(Orm):
    id: str
    kind: str
    state: str = Field(description="queued | running | succeeded | failed")
    params: ShownJSON
    result: ShownJSON = Field(description="While running: `heartbeat` and `history`; at the end, "
                                   "what the job produced, and `history`.")
    error: Shown | None
    attempts: int
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BuildOut(Orm):
    id: str
    repository_id: str | None
    source: Shown
    commit: str | None
    status: str
    python: str | None
    test_command: str | None
    tests: dict[str, Any]
    image: str | None
    error: Shown | None
    duration_s: float | None
    created_at: datetime
    finished_at: datetime | None


class BuildStatus(BaseModel):
    id: str
    job: JobOut | None
    build: BuildOut | None


class BuildLogOut(Orm):
    id: int
    step: str
    command: Shown
    exit_code: int | None
    output: Shown
    duration_s: float
    created_at: datetime


class BuildLogs(BaseModel):
    build_id: str | None
    items: list[BuildLogOut]
    next_after: int | None = Field(description="Pass as `after` to get only newer lines.")


class ImageOut(Orm):
    id: str
    build_id: str
    repository_id: str | None
    digest: str
    source: Shown
    commit: str | None
    python: str
    test_command: str
    status: str
    size_bytes: int
    created_at: datetime


class ImageDetail(ImageOut):
    recipe: ShownJSON
    tests: dict[str, int] = Field(description="Count of test results by outcome, and `flaky`.")


class TasksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(min_length=1, max_length=300, description="A validated image (its tag).")
    kind: str = Field("mutate-fix", pattern="^(mutate-fix|implement-feature|from-history)$")
    max_tasks: int = Field(5, ge=1, le=200, description="Stop after this many validated tasks.")
    max_candidates: int | None = Field(None, ge=1, le=5000, description="Candidates to try (8 x max).")
    seed: int = Field(0, ge=0, le=2**31)


class TaskOut(Orm):
    id: str
    image_id: str
    kind: str
    family: str | None
    status: str
    fail_to_pass: list[Any]
    pass_to_pass: list[Any]
    fingerprint: str
    created_at: datetime


class TaskDetail(TaskOut):
    setup_patch: str
    gold_patch: str
    test_patch: str
    problem_statement: str
    meta: ShownJSON


class RunsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_ids: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1, max_length=500)
    episodes: int = Field(1, ge=1, le=100, description="Episodes per task.")
    agent: str = Field("llm", min_length=1, max_length=30)
    model_url: str | None = Field(
        None, max_length=500, pattern=r"^https?://[^\s]+$",
        description="An OpenAI-compatible endpoint. The server's own key goes only to its trusted endpoints "
                    "(FORAGER_MODEL_URL, FORAGER_MODEL_ENDPOINTS); another endpoint gets `model_api_key`, "
                    "or no key.")
    model_api_key: SecretStr | None = Field(
        None, min_length=1, max_length=1000,
        description="The key for `model_url`. Write-only: never stored, answered or logged; held in the "
                    "memory of the API process for its jobs (embedded executor only), lost on a restart.")
    model_name: str | None = Field(None, max_length=200)
    max_steps: int | None = Field(None, ge=1, le=1000)


class RunBatch(BaseModel):
    jobs: list[JobOut]


class NoopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: float = Field(0.0, ge=0, le=60)
    queue: str = Field("tasks", pattern="^(build|tasks|agent)$")


class TrajectorySummary(Orm):
    id: str
    task_id: str | None
    image: str | None
    repository: str | None
    kind: str | None
    model: str | None
    agent: str | None
    resolved: bool | None
    complete: bool
    steps: int
    exit_reason: str | None
    duration_s: float | None
    origin: str
    sha256: str
    created_at: datetime


class UploadOut(BaseModel):
    id: str
    sha256: str = Field(description="SHA-256 of the stored file (what `/raw` returns).")
    steps: int
    uploaded_id: str | None = Field(description="The `id` the upload carried, replaced by `id`.")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scope: str = Field("read", pattern="^(read|write|admin)$")


class TokenOut(BaseModel):
    id: str
    name: str
    scope: str
    prefix: str
    revoked: bool = False


class NewToken(TokenOut):
    token: str = Field(description="The bearer token. Shown only once.")


class Health(BaseModel):
    status: str
    database: str
    executor: str
    version: str


class Stats(BaseModel):
    builds: dict[str, Any]
    images: dict[str, Any]
    tasks: dict[str, Any]
    trajectories: dict[str, Any]
    jobs: dict[str, Any]


# ----------------------------------------------------------------------------- auth
bearer = HTTPBearer(auto_error=False, description="A token from `forager tokens create NAME --scope SCOPE`.")


def need(scope: str):  # type: ignore[no-untyped-def]
    def check(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> tokens.TokenInfo:
        if cred is None:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        info = tokens.verify(cred.credentials)
        if info is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        if not tokens.allows(info.scope, scope):
            raise HTTPException(403, f"this needs the {scope} scope; the token has {info.scope}")
        return info

    return check


Read = Annotated[tokens.TokenInfo, Depends(need("read"))]
Write = Annotated[tokens.TokenInfo, Depends(need("write"))]
Admin = Annotated[tokens.TokenInfo, Depends(need("admin"))]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                       description="Retrying with the same key returns the same job(s).")]
UploadKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                         description="Retrying with the same key returns the same trajectory "
                                                     "and stores nothing twice.")]


# ----------------------------------------------------------------------------- helpers
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _encode_cursor(row: Any) -> str:
    raw = json.dumps([row.created_at.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, row_id = json.loads(raw)
        return datetime.fromisoformat(ts), str(row_id)
    except Exception as exc:  # noqa: BLE001
        raise HTTPException(400, "invalid cursor (use next_cursor from the previous page)") from exc


def _page(stmt: Select, model: Any, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    if cursor:
        ts, row_id = _decode_cursor(cursor)
        stmt = stmt.where(or_(model.created_at < ts, and_(model.created_at == ts, model.id < row_id)))
    stmt = stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    with db.session() as s:
        rows = list(s.scalars(stmt).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, _encode_cursor(rows[-1]) if more and rows else None


def _not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(404, f"no {what} {ident!r}")


PYPI_RE = re.compile(r"^pypi:[A-Za-z0-9][A-Za-z0-9._-]*(==[A-Za-z0-9.+!_-]+)?$")
REMOTE_RE = re.compile(r"^((https?|git|ssh)://[^\s]+|git@[^\s:]+:[^\s]+)$")


def _check_source(source: str, token: tokens.TokenInfo) -> tuple[str, str, str]:
    """(kind, name, source) for an acceptable source, else a 422 that says why."""
    source = source.strip()
    if PYPI_RE.match(source):
        return "pypi", source.removeprefix("pypi:").split("==")[0], source
    if REMOTE_RE.match(source):
        name = source.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git") or "repo"
        return "git", name, source
    if source.startswith("/"):
        if not tokens.allows(token.scope, "admin"):
            raise HTTPException(403, "a directory on the server as a source needs the admin scope")
        path = Path(source)
        if not path.is_dir():
            raise HTTPException(422, f"no such directory on the server: {source}")
        return "local", path.name, str(path.resolve())
    raise HTTPException(422, "source must be a git URL (https://, ssh://, git@host:path), "
                             "pypi:NAME[==VERSION], or an absolute directory on the server")


def _submit(kind: str, params: dict[str, Any], token: tokens.TokenInfo, key: str | None,
            index: int = 0, model_key: str | None = None) -> db.Job:
    job_id = jobs.idempotent_id(f"{token.id}\x00{key}", index) if key else db.new_id("job")
    if model_key:
        hold_model_key(job_id, model_key)  # before the job can start
    try:
        return jobs.submit(kind, params, job_id)
    except jobs.JobConflict as exc:
        raise HTTPException(409, f"Idempotency-Key reused with a different request: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - e.g. the broker is down; the job stays queued
        raise HTTPException(503, f"the job was recorded but could not be queued: {exc}") from exc


def _model_key_source(body: RunsIn) -> str:
    """Whose key a run's model calls carry: ``server`` (FORAGER_MODEL_API_KEY, trusted endpoints
    only), ``caller`` (``model_api_key``, held in memory) or ``none``. Recorded in the job's params
    (the key itself never is); 422 for what this server cannot do safely."""
    settings = get_settings()
    if body.agent != "llm":
        return "none"
    if body.model_api_key is not None:
        if settings.executor != "embedded":
            raise HTTPException(422, "model_api_key needs the embedded executor: a caller's key is held only "
                                     "in the API process and never sent through the job queue; ask for the "
                                     "endpoint to be added to FORAGER_MODEL_ENDPOINTS instead")
        source = "caller"
    else:
        source = "server" if is_trusted_model_url(body.model_url) else "none"
    return source


def _get_job(job_id: str, kind: str | None = None) -> db.Job:
    job = jobs.get_job(job_id)
    if job is None or (kind and job.kind != kind):
        raise _not_found(f"{kind or ''} job".strip(), job_id)
    return job


def _build_of_job(job: db.Job) -> db.Build | None:
    """The build a build job writes (its id is fixed by the job id)."""
    with db.session() as s:
        return s.get(db.Build, (job.result or {}).get("build_id") or jobs.build_id_for(job.id))


# ----------------------------------------------------------------------------- trajectory uploads
JSON_TYPES = ("application/json",)
LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/gzip",
               "application/x-gzip", "application/octet-stream")
TRAJ_REF = {"$ref": "#/components/schemas/Trajectory"}
BINARY = {"type": "string", "format": "binary"}
UPLOAD_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Trajectory"}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "The .jsonl file format"}},
        "application/gzip": {"schema": {"type": "string", "format": "binary",
                                        "description": "The .jsonl.gz file format"}},
    },
}


class UploadError(InvalidInput):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status, self.detail = status, detail


async def _read_limited(request: Request, limit: int) -> bytes:
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


def _gunzip_limited(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    size = 0
    try:
        while data:
            block = d.decompress(data, 1 << 20)
            size += len(block)
            if size > limit:
                raise UploadError(413, f"decompressed body is over the limit of {limit} bytes")
            out.append(block)
            data = d.unconsumed_tail
            if d.eof:
                break
        if not d.eof:
            raise UploadError(422, "gzip stream is truncated")
        if d.unused_data.strip(b"\x00"):
            raise UploadError(422, "gzip stream has several members or trailing data")
    except zlib.error as exc:
        raise UploadError(422, f"not valid gzip: {exc}") from exc
    return b"".join(out)


def _validation_detail(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    return [{"loc": [prefix, *e["loc"]] if prefix else list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)[:50]]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_value(line: bytes | str, where: str) -> Any:
    try:
        return json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise UploadError(422, f"{where}: not valid JSON: {exc}") from exc


MAX_DEPTH = 64
"""Deepest nesting an upload may have (a trajectory needs about 6; tool arguments a few more)."""
SURROGATE = re.compile(r"[\ud800-\udfff]")


def _loc(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "body"


def _check_tree(value: Any) -> None:
    """Refuse what parses as JSON but cannot be stored and served back: nesting deeper than
    MAX_DEPTH, strings with lone surrogates (not Unicode: they cannot be encoded as UTF-8), and
    numbers that are not finite (``1e999``)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise UploadError(422, f"{_loc(path[:8])}...: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str) and (bad := SURROGATE.search(item)):
            raise UploadError(422, f"{_loc(path)}: a string holds a lone surrogate (U+{ord(bad[0]):04X}), "
                                   "which is not valid Unicode")
        if isinstance(item, float) and not math.isfinite(item):
            raise UploadError(422, f"{_loc(path)}: {item} is not a finite number")
        if isinstance(item, dict):
            for key, sub in item.items():
                if SURROGATE.search(key):
                    raise UploadError(422, f"{_loc(path)}: a key holds a lone surrogate; not valid Unicode")
                stack.append((sub, (*path, key)))
        elif isinstance(item, list):
            stack.extend((sub, (*path, i)) for i, sub in enumerate(item))


INDEXED = {"task_id": 40, "image": 300, "repository": 500, "kind": 30, "agent": 30, "exit_reason": 50}
"""Fields the registry indexes (column sizes): they hold no NUL and fit their column."""


def _check_indexed(traj: Trajectory) -> None:
    fields = {**{name: getattr(traj, name) for name in INDEXED}, "model.name": traj.model.name}
    limits = {**INDEXED, "model.name": 200}
    for name, value in fields.items():
        if value is None:
            continue
        if "\x00" in value:
            raise UploadError(422, f"{name}: holds a NUL character")
        if len(value) > limits[name]:
            raise UploadError(422, f"{name}: longer than {limits[name]} characters")


def _parse_lines(text: str) -> dict[str, Any]:
    """The .jsonl format: a header line, turn lines, an outcome line (strict: any bad line is an error)."""
    header: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    turns: list[Any] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = _json_value(line, f"line {n}")
        kind = row.pop("type", None) if isinstance(row, dict) else None
        if outcome is not None:
            raise UploadError(422, f"line {n}: nothing may follow the outcome line")
        if kind == "header" and header is None and n == 1:
            header = row
        elif kind == "turn" and header is not None:
            turns.append(row)
        elif kind == "outcome" and header is not None:
            outcome = row
        else:
            wanted = "a header" if header is None else "a turn or the outcome"
            raise UploadError(422, f"line {n}: expected {wanted} line, got type {kind!r}")
    if header is None:
        raise UploadError(422, "empty upload: no header line")
    if outcome is None:
        raise UploadError(422, "no outcome line: the file is truncated or the episode did not finish")
    clash = (set(header) & set(outcome)) | ({"turns"} & (set(header) | set(outcome)))
    if clash:
        raise UploadError(422, f"fields given twice (header/outcome): {sorted(clash)}")
    return {**header, **outcome, "turns": turns}


def parse_upload(body: bytes, content_type: str, limit: int) -> Trajectory:
    """Validate an uploaded trajectory whole; raises UploadError (4xx) saying what is wrong."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in JSON_TYPES + LINES_TYPES:
        raise UploadError(415, f"unsupported content type {ctype or '(none)'!r}; send application/json "
                               "(one Trajectory object), application/x-ndjson (.jsonl) or application/gzip "
                               "(.jsonl.gz)")
    if body[:2] == b"\x1f\x8b":
        body = _gunzip_limited(body, limit)
    try:
        text_body = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadError(422, f"body is not UTF-8: {exc}") from exc
    if not text_body.strip():
        raise UploadError(422, "empty body")
    if ctype in JSON_TYPES:
        data = _json_value(text_body, "body")
        if not isinstance(data, dict):
            raise UploadError(422, "body must be one JSON object (a Trajectory)")
    else:
        data = _parse_lines(text_body)
    _check_tree(data)
    try:
        traj = Trajectory.model_validate(data, extra="forbid")
    except ValidationError as exc:
        raise UploadError(422, _validation_detail(exc)) from exc
    except (ValueError, RecursionError) as exc:
        raise UploadError(422, f"invalid trajectory: {exc}") from exc
    if "schema_version" not in data:  # `{}` is not a trajectory
        raise UploadError(422, "schema_version is missing: a trajectory names its schema "
                               f'("{trajmod.SCHEMA_VERSION}")')
    _check_indexed(traj)
    return traj


def canonical_json(traj: Trajectory) -> bytes:
    """The one JSON form the API answers: every field present, keys sorted, compact, UTF-8.
    A stored record holding text that UTF-8 cannot encode (lone surrogates, from before uploads
    refused them) is answered with ASCII escapes instead: still valid JSON, never an error."""
    data = traj.model_dump(mode="json")
    text_ = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text_.encode()
    except UnicodeEncodeError:
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _load_stored(traj_id: str) -> tuple[Trajectory, str | None]:
    """A stored trajectory by registry id only: ids are never file paths (404 for anything else)."""
    try:
        loaded = trajstore.load_stored(traj_id)
    except (LookupError, OSError) as exc:
        raise _not_found("trajectory", traj_id) from exc
    return loaded.trajectory, loaded.error


def export_line(traj_id: str) -> bytes:
    """One line of the export: the trajectory, or ``{"id", "export_error"}`` when its stored record
    cannot be read or encoded (reported, never a silent stop); empty if it was deleted meanwhile."""
    try:
        loaded = trajstore.load_stored(traj_id)
        return canonical_json(loaded.trajectory) + b"\n"
    except LookupError:
        return b""
    except Exception as exc:  # noqa: BLE001 - one bad record must not end the export
        error = f"{type(exc).__name__}: {exc}"[:500]
        return json.dumps({"id": traj_id, "export_error": error}, sort_keys=True).encode() + b"\n"


def _upload_id(token: tokens.TokenInfo, key: str | None) -> str | None:
    """The id an upload with an Idempotency-Key gets: fixed by the token and the key."""
    if not key:
        return None
    return "traj-" + hashlib.sha256(f"{token.id}\x00{key}".encode()).hexdigest()[:24]


def _stored_same(traj: Trajectory) -> UploadOut | None:
    """For a retried upload (its id fixed by the Idempotency-Key): the earlier answer if the same
    trajectory is stored under that id; 409 if another one is; None if nothing is."""
    with db.session() as s:
        row = s.get(db.Trajectory, traj.id)
    if row is None:
        return None
    if row.sha256 != hashlib.sha256(fileformat.dumps(traj)).hexdigest():
        raise HTTPException(409, "Idempotency-Key reused with a different trajectory")
    return UploadOut(id=row.id, sha256=row.sha256, steps=row.steps, uploaded_id=None)


def store_upload(traj: Trajectory) -> UploadOut:
    """Store a validated upload (``traj.id`` is None, or fixed by an Idempotency-Key); a retry of a
    stored upload stores nothing and answers the same."""
    traj.model.url = redact_url(traj.model.url)
    if traj.id and (same := _stored_same(traj)):
        return same
    try:
        new_id = trajstore.save(traj, "upload")
    except IntegrityError:  # the same key, uploaded concurrently: the other one was stored
        if traj.id and (same := _stored_same(traj)):
            return same
        raise
    with db.session() as s:
        row = s.get(db.Trajectory, new_id)
        digest = row.sha256 if row else ""
    return UploadOut(id=new_id, sha256=digest, steps=len(traj.turns), uploaded_id=None)


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _traj_filters(stmt: Select, task_id: str | None, repository: str | None, kind: str | None,
                  model: str | None, agent: str | None, resolved: bool | None, complete: bool | None,
                  origin: str | None, since: datetime | None, until: datetime | None) -> Select:
    t = db.Trajectory
    for col, val in ((t.task_id, task_id), (t.repository, repository), (t.kind, kind), (t.model, model),
                     (t.agent, agent), (t.resolved, resolved), (t.complete, complete), (t.origin, origin)):
        if val is not None:
            stmt = stmt.where(col == val)
    if since is not None:
        stmt = stmt.where(t.created_at >= _naive_utc(since))
    if until is not None:
        stmt = stmt.where(t.created_at < _naive_utc(until))
    return stmt


class TrajFilters(BaseModel):
    task_id: str | None = None
    repository: str | None = None
    kind: str | None = None
    model: str | None = None
    agent: str | None = None
    resolved: bool | None = None
    complete: bool | None = None
    origin: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# ----------------------------------------------------------------------------- app
def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(jobs.recover_on_start)  # what dead processes left; jobs to hand over
        yield
        jobs.shutdown_embedded()

    app = FastAPI(title="Forager API", version=API_VERSION, lifespan=lifespan,
                  description="Repository-environment farm: repositories, builds, images, tasks, agent runs "
                              "and trajectories. Authenticate with `Authorization: Bearer <token>`.")

    @app.exception_handler(UploadError)
    async def _upload_error(_: Request, exc: UploadError) -> Response:
        return Response(json.dumps({"detail": exc.detail}), status_code=exc.status,
                        media_type="application/json")

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz(response: Response) -> Health:
        try:
            with db.session() as s:
                s.execute(text("SELECT 1"))
            database = "ok"
        except Exception as exc:  # noqa: BLE001
            database = f"error: {type(exc).__name__}"
            response.status_code = 503
        return Health(status="ok" if database == "ok" else "degraded", database=database,
                      executor=get_settings().executor, version=API_VERSION)

    # --- repositories -----------------------------------------------------------------------
    @app.get("/v1/repositories", response_model=Page[RepositoryOut], tags=["repositories"])
    def list_repositories(_: Read, limit: Limit = 50, cursor: Cursor = None,
                          kind: str | None = None) -> Page[RepositoryOut]:
        stmt = select(db.Repository)
        if kind:
            stmt = stmt.where(db.Repository.kind == kind)
        rows, nxt = _page(stmt, db.Repository, limit, cursor)
        return Page(items=[RepositoryOut.model_validate(r) for r in rows], next_cursor=nxt)

    @app.post("/v1/repositories", response_model=RepositoryOut, status_code=201, tags=["repositories"],
              responses={200: {"model": RepositoryOut, "description": "Already known"}})
    def add_repository(body: RepositoryIn, token: Write, response: Response) -> RepositoryOut:
        kind, name, source = _check_source(body.source, token)
        with db.session() as s:
            row = s.scalars(select(db.Repository).where(db.Repository.source == source)).first()
            if row is not None:
                response.status_code = 200
                return RepositoryOut.model_validate(row)
        try:
            with db.session() as s:
                row = db.Repository(source=source, name=name[:200], kind=kind)
                s.add(row)
        except Exception:  # noqa: BLE001 - added concurrently: answer the existing row
            with db.session() as s:
                row = s.scalars(select(db.Repository).where(db.Repository.source == source)).first()
            if row is None:
                raise
            response.status_code = 200
        return RepositoryOut.model_validate(row)

    @app.get("/v1/repositories/{repository_id}", response_model=RepositoryOut, tags=["repositories"])
    def show_repository(repository_id: str, _: Read) -> RepositoryOut:
        with db.session() as s:
            row = s.get(db.Repository, repository_id)
        if row is None:
            raise _not_found("repository", repository_id)
        return RepositoryOut.model_validate(row)

    # --- builds -----------------------------------------------------------------------------
    @app.post("/v1/builds", response_model=JobOut, status_code=202, tags=["builds"])
    def start_build(body: BuildIn, token: Write, idempotency_key: IdemKey = None) -> JobOut:
        _, _, source = _check_source(body.source, token)
        job = _submit("build", {"source": source, "commit": body.commit, "python": body.python}, token,
                      idempotency_key)
        return JobOut.model_validate(job)

    @app.get("/v1/builds", response_model=Page[BuildOut], tags=["builds"])
    def list_builds(_: Read, limit: Limit = 50, cursor: Cursor = None, status: str | None = None,
                    repository_id: str | None = None) -> Page[BuildOut]:
        stmt = select(db.Build)
        if status:
            stmt = stmt.where(db.Build.status == status)
        if repository_id:
            stmt = stmt.where(db.Build.repository_id == repository_id)
        rows, nxt = _page(stmt, db.Build, limit, cursor)
        return Page(items=[BuildOut.model_validate(r) for r in rows], next_cursor=nxt)

    def _build_status(build_or_job_id: str) -> tuple[db.Job | None, db.Build | None]:
        with db.session() as s:
            build = s.get(db.Build, build_or_job_id)
        if build is not None:
            return None, build
        job = jobs.get_job(build_or_job_id)
        if job is None or job.kind != "build":
            raise _not_found("build or build job", build_or_job_id)
        return job, _build_of_job(job)

    @app.get("/v1/builds/{build_id}", response_model=BuildStatus, tags=["builds"],
             description="By build id, or by the id of the job that `POST /v1/builds` answered.")
    def build_status(build_id: str, _: Read) -> BuildStatus:
        job, build = _build_status(build_id)
        return BuildStatus(id=build_id, job=JobOut.model_validate(job) if job else None,
                           build=BuildOut.model_validate(build) if build else None)

    @app.get("/v1/builds/{build_id}/logs", response_model=BuildLogs, tags=["builds"])
    def build_logs(build_id: str, _: Read, after: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> BuildLogs:
        _, build = _build_status(build_id)
        if build is None:
            return BuildLogs(build_id=None, items=[], next_after=after)
        with db.session() as s:
            stmt = select(db.BuildLog).where(db.BuildLog.build_id == build.id, db.BuildLog.id > after)
            rows = s.scalars(stmt.order_by(db.BuildLog.id).limit(limit)).all()
        items = [BuildLogOut.model_validate(r) for r in rows]
        return BuildLogs(build_id=build.id, items=items, next_after=items[-1].id if items else after)

    # --- images -----------------------------------------------------------------------------
    @app.get("/v1/images", response_model=Page[ImageOut], tags=["images"])
    def list_images(_: Read, limit: Limit = 50, cursor: Cursor = None, repository_id: str | None = None,
                    status: str | None = None, python: str | None = None) -> Page[ImageOut]:
        stmt = select(db.Image)
        for col, val in ((db.Image.repository_id, repository_id), (db.Image.status, status),
                         (db.Image.python, python)):
            if val:
                stmt = stmt.where(col == val)
        rows, nxt = _page(stmt, db.Image, limit, cursor)
        return Page(items=[ImageOut.model_validate(r) for r in rows], next_cursor=nxt)

    @app.get("/v1/images/{image_id:path}", response_model=ImageDetail, tags=["images"],
             description="The image id is its tag, e.g. `forager/minipkg:abc123` (slashes allowed).")
    def show_image(image_id: str, _: Read) -> ImageDetail:
        with db.session() as s:
            row = s.get(db.Image, image_id)
            if row is None:
                raise _not_found("image", image_id)
            counts = dict(s.execute(select(db.TestResult.outcome, func.count())
                                    .where(db.TestResult.build_id == row.build_id)
                                    .group_by(db.TestResult.outcome)).all())
            flaky = s.scalar(select(func.count()).where(db.TestResult.build_id == row.build_id,
                                                        db.TestResult.flaky.is_(True)))
        return ImageDetail.model_validate({**ImageOut.model_validate(row).model_dump(), "recipe": row.recipe,
                                           "tests": {**counts, "flaky": flaky or 0}})

    # --- tasks ------------------------------------------------------------------------------
    @app.post("/v1/tasks", response_model=JobOut, status_code=202, tags=["tasks"],
              description="Generate tasks from a validated image (a job of kind `tasks`).")
    def generate_tasks(body: TasksIn, token: Write, idempotency_key: IdemKey = None) -> JobOut:
        with db.session() as s:
            if s.get(db.Image, body.image) is None:
                raise _not_found("image", body.image)
        job = _submit("tasks", body.model_dump(), token, idempotency_key)
        return JobOut.model_validate(job)

    @app.get("/v1/tasks", response_model=Page[TaskOut], tags=["tasks"])
    def list_tasks(_: Read, limit: Limit = 50, cursor: Cursor = None, image: str | None = None,
                   kind: str | None = None, family: str | None = None,
                   status: str | None = None) -> Page[TaskOut]:
        stmt = select(db.Task)
        for col, val in ((db.Task.image_id, image), (db.Task.kind, kind), (db.Task.family, family),
                         (db.Task.status, status)):
            if val:
                stmt = stmt.where(col == val)
        rows, nxt = _page(stmt, db.Task, limit, cursor)
        return Page(items=[TaskOut.model_validate(r) for r in rows], next_cursor=nxt)

    @app.get("/v1/tasks/{task_id}", response_model=TaskDetail, tags=["tasks"])
    def show_task(task_id: str, _: Read) -> TaskDetail:
        with db.session() as s:
            row = s.get(db.Task, task_id)
        if row is None:
            raise _not_found("task", task_id)
        return TaskDetail.model_validate(row)

    # --- runs -------------------------------------------------------------------------------
    @app.post("/v1/runs", response_model=RunBatch, status_code=202, tags=["runs"],
              description="Start `episodes` agent episodes on each task: one job of kind `run` per episode. "
                          "The server's model key is sent only to its trusted endpoints.")
    def start_runs(body: RunsIn, token: Write, idempotency_key: IdemKey = None) -> RunBatch:
        if len(body.task_ids) * body.episodes > 1000:
            raise HTTPException(422, "at most 1000 episodes per request")
        with db.session() as s:
            known = set(s.scalars(select(db.Task.id).where(db.Task.id.in_(set(body.task_ids)))).all())
        missing = sorted(set(body.task_ids) - known)
        if missing:
            raise HTTPException(404, f"no task(s): {', '.join(missing[:20])}")
        key_source = _model_key_source(body)
        caller_key = body.model_api_key.get_secret_value() if key_source == "caller" and body.model_api_key else None
        out: list[db.Job] = []
        for task_id in body.task_ids:
            for episode in range(body.episodes):
                params = {"task_id": task_id, "episode": episode, "agent": body.agent,
                          "model_url": body.model_url, "model_name": body.model_name,
                          "max_steps": body.max_steps, "model_key": key_source}
                out.append(_submit("run", params, token, idempotency_key, len(out), caller_key))
        return RunBatch(jobs=[JobOut.model_validate(j) for j in out])

    @app.get("/v1/runs", response_model=Page[JobOut], tags=["runs"])
    def list_runs(_: Read, limit: Limit = 50, cursor: Cursor = None,
                  state: str | None = None) -> Page[JobOut]:
        stmt = select(db.Job).where(db.Job.kind == "run")
        if state:
            stmt = stmt.where(db.Job.state == state)
        rows, nxt = _page(stmt, db.Job, limit, cursor)
        return Page(items=[JobOut.model_validate(r) for r in rows], next_cursor=nxt)

    @app.get("/v1/runs/{job_id}", response_model=JobOut, tags=["runs"])
    def run_status(job_id: str, _: Read) -> JobOut:
        return JobOut.model_validate(_get_job(job_id, "run"))

    # --- jobs -------------------------------------------------------------------------------
    @app.get("/v1/jobs", response_model=Page[JobOut], tags=["jobs"])
    def list_jobs(_: Read, limit: Limit = 50, cursor: Cursor = None, kind: str | None = None,
                  state: str | None = None) -> Page[JobOut]:
        stmt = select(db.Job)
        if kind:
            stmt = stmt.where(db.Job.kind == kind)
        if state:
            stmt = stmt.where(db.Job.state == state)
        rows, nxt = _page(stmt, db.Job, limit, cursor)
        return Page(items=[JobOut.model_validate(r) for r in rows], next_cursor=nxt)

    @app.get("/v1/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
    def job_status(job_id: str, _: Read) -> JobOut:
        return JobOut.model_validate(_get_job(job_id))

    @app.post("/v1/jobs/noop", response_model=JobOut, status_code=202, tags=["jobs"],
              description="Diagnostic job that sleeps `duration` seconds on a queue (checks workers).")
    def start_noop(body: NoopIn, token: Admin, idempotency_key: IdemKey = None) -> JobOut:
        job = _submit("noop", {"duration": body.duration, "queue": body.queue}, token, idempotency_key)
        return JobOut.model_validate(job)

    # --- trajectories -----------------------------------------------------------------------
    @app.post("/v1/trajectories", response_model=UploadOut, status_code=201, tags=["trajectories"],
              openapi_extra={"requestBody": UPLOAD_BODY},
              responses={409: {"description": "Idempotency-Key reused with another trajectory"},
                         413: {"description": "Body over the size limit"},
                         415: {"description": "Unsupported content type"},
                         422: {"description": "Not a valid trajectory; the body says what is wrong"}})
    async def upload_trajectory(request: Request, token: Write, idempotency_key: UploadKey = None) -> UploadOut:
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
        limit = get_settings().api_max_upload_bytes
        body = await _read_limited(request, limit)
        traj = await run_in_threadpool(parse_upload, body, request.headers.get("content-type", ""), limit)
        uploaded_id, traj.id = traj.id, _upload_id(token, idempotency_key)
        out = await run_in_threadpool(store_upload, traj)
        out.uploaded_id = uploaded_id
        return out

    @app.get("/v1/trajectories", response_model=Page[TrajectorySummary], tags=["trajectories"])
    def list_trajectories(_: Read, filters: Annotated[TrajFilters, Query()], limit: Limit = 50,
                          cursor: Cursor = None) -> Page[TrajectorySummary]:
        stmt = _traj_filters(select(db.Trajectory), **filters.model_dump())
        rows, nxt = _page(stmt, db.Trajectory, limit, cursor)
        return Page(items=[TrajectorySummary.model_validate(r) for r in rows], next_cursor=nxt)

    @app.get("/v1/trajectories/export", tags=["trajectories"],
             response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                              "description": "One Trajectory JSON object per line, newest first. A stored "
                                             "record that cannot be read is reported in its place as "
                                             '`{"id": ..., "export_error": ...}` (no `schema_version`).'}})
    def export_trajectories(_: Read, filters: Annotated[TrajFilters, Query()],
                            limit: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
        base = _traj_filters(select(db.Trajectory), **filters.model_dump())

        def lines() -> Iterator[bytes]:
            cursor, sent = None, 0
            while True:
                rows, cursor = _page(base, db.Trajectory, 100, cursor)
                for row in rows:
                    if limit is not None and sent >= limit:
                        return
                    line = export_line(row.id)
                    if line:
                        yield line
                        sent += 1
                if cursor is None:
                    return

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.get("/v1/trajectories/{trajectory_id}", tags=["trajectories"],
             responses={200: {"content": {"application/json": {"schema": TRAJ_REF}},
                              "description": "The trajectory, canonical JSON (the schema POST takes)"}})
    def get_trajectory(trajectory_id: str, _: Read) -> Response:
        traj, error = _load_stored(trajectory_id)
        headers = {"X-Forager-Load-Error": error[:200].encode("ascii", "replace").decode()} if error else {}
        return Response(canonical_json(traj), media_type="application/json", headers=headers)

    @app.get("/v1/trajectories/{trajectory_id}/raw", tags=["trajectories"],
             responses={200: {"content": {"application/gzip": {"schema": BINARY}},
                              "description": "The stored .jsonl.gz file, byte for byte"}})
    def get_trajectory_raw(trajectory_id: str, _: Read) -> Response:
        row = None
        if trajmod.is_id(trajectory_id):
            with db.session() as s:
                row = s.get(db.Trajectory, trajectory_id)
        if row is None or not Path(row.path).is_file():
            raise _not_found("trajectory", trajectory_id)
        return Response(Path(row.path).read_bytes(), media_type="application/gzip",
                        headers={"Content-Disposition": f'attachment; filename="{row.id}.jsonl.gz"',
                                 "X-Forager-SHA256": row.sha256})

    # --- stats ------------------------------------------------------------------------------
    @app.get("/v1/stats", response_model=Stats, tags=["stats"])
    def stats(_: Read) -> Stats:
        day_ago = utcnow() - timedelta(days=1)

        def by(s: Any, col: Any, *where: Any) -> dict[str, int]:
            rows = s.execute(select(col, func.count()).where(*where).group_by(col)).all()
            return {str(k): int(v) for k, v in rows}

        def rate(num: int, den: int) -> float | None:
            return round(num / den, 4) if den else None

        with db.session() as s:
            builds = by(s, db.Build.status)
            builds_day = by(s, db.Build.status, db.Build.created_at >= day_ago)
            images = s.scalar(select(func.count()).select_from(db.Image)) or 0
            tasks = by(s, db.Task.kind)
            tasks_day = s.scalar(select(func.count()).where(db.Task.created_at >= day_ago)) or 0
            trajs = by(s, db.Trajectory.resolved)
            origins = by(s, db.Trajectory.origin)
            jobs_state = by(s, db.Job.state)
        done = builds.get("validated", 0) + builds.get("failed", 0)
        judged = trajs.get("True", 0) + trajs.get("False", 0) + trajs.get("1", 0) + trajs.get("0", 0)
        resolved = trajs.get("True", 0) + trajs.get("1", 0)
        return Stats(
            builds={"total": sum(builds.values()), "by_status": builds, "validation_rate": rate(builds.get(
                "validated", 0), done), "last_24h": sum(builds_day.values()),
                "validated_last_24h": builds_day.get("validated", 0)},
            images={"total": images},
            tasks={"total": sum(tasks.values()), "by_kind": tasks, "last_24h": tasks_day},
            trajectories={"total": sum(trajs.values()), "with_reward": judged, "resolved": resolved,
                          "resolve_rate": rate(resolved, judged), "by_origin": origins},
            jobs={"by_state": jobs_state},
        )

    # --- tokens -----------------------------------------------------------------------------
    @app.post("/v1/tokens", response_model=NewToken, status_code=201, tags=["tokens"])
    def create_token(body: TokenIn, _: Admin) -> NewToken:
        token, info = tokens.create(body.name, body.scope)
        return NewToken(token=token, **info.__dict__)

    @app.get("/v1/tokens", response_model=list[TokenOut], tags=["tokens"])
    def list_tokens(_: Admin) -> list[TokenOut]:
        return [TokenOut(**t.__dict__) for t in tokens.list_tokens()]

    @app.delete("/v1/tokens/{token_id}", status_code=204, tags=["tokens"])
    def revoke_token(token_id: str, _: Admin) -> Response:
        if not tokens.revoke(token_id):
            raise _not_found("token", token_id)
        return Response(status_code=204)

    def openapi_with_trajectory() -> dict[str, Any]:
        """The generated schema, plus the Trajectory schema that the upload and download refer to."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            traj = Trajectory.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(traj.pop("$defs", {}))
            components["Trajectory"] = traj
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi_with_trajectory  # type: ignore[method-assign]

    # --- the web viewer (another part), when installed --------------------------------------
    if importlib.util.find_spec("forager.web") is not None:
        from forager.web.app import router as web_router

        app.include_router(web_router, include_in_schema=False)
    return app


def openapi_document(app: FastAPI | None = None) -> str:
    """The OpenAPI schema as committed in api/openapi.json (sorted keys, 2-space indent)."""
    return json.dumps((app or create_app()).openapi(), indent=2, sort_keys=True) + "\n"


app = create_app()
