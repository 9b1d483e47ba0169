"""The REST API (FastAPI): everything under ``/v1``, JSON, bearer tokens, paginated lists.

Long work (builds, task generation, agent runs) is never done inside a request: it becomes a
job (``forager.jobs``) and the request answers ``202`` with the job to poll at ``/v1/jobs/{id}``.

Lists are paginated by an opaque ``cursor``: each page answers ``next_cursor`` (null on the last
page), newest first. Uploaded trajectories are validated whole before anything is stored, and
stored atomically; see ``routes/trajectories.py`` for the accepted formats and the normalisation.

This module assembles the app: lifespan, error handlers, the routers of ``routes/``, the viewer,
and the OpenAPI document (with the Trajectory schema the uploads and downloads refer to).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from forager import jobs as job_runner
from forager.api.routes import (
    builds,
    health,
    images,
    jobs,
    repositories,
    runs,
    sessions,
    stats,
    tasks,
    tokens,
    trajectories,
)
from forager.api.routes import campaigns as campaign_routes
from forager.api.routes import traces as trace_routes
from forager.api.uploads import UploadError
from forager.api.version import API_VERSION
from forager.errors import NotFound
from forager.sessions import reaper as session_reaper
from forager.store.paging import BadCursor
from forager.trajectory.schema import Trajectory
from forager.web.app import router as web_router

ROUTERS = (health, repositories, builds, images, tasks, runs, jobs, trajectories, stats, tokens)
DESCRIPTION = ("Repository-environment farm: repositories, builds, images, tasks, agent runs "
               "and trajectories. Authenticate with `Authorization: Bearer <token>`.")


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(job_runner.recover_on_start)  # what dead processes left; jobs to hand over
    stop_session_sweeps = session_reaper.start_background()  # idle sessions, dead containers, orphans
    yield
    stop_session_sweeps.set()
    job_runner.shutdown_embedded()


async def _upload_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, UploadError)
    return Response(json.dumps({"detail": exc.detail}), status_code=exc.status, media_type="application/json")


async def _not_found(_: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _bad_cursor(_: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=400)


def openapi_with_trajectory(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus the Trajectory schema that the upload and download refer to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        traj = Trajectory.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(traj.pop("$defs", {}))
        components["Trajectory"] = traj
        app.openapi_schema = schema
    return app.openapi_schema


def create_app() -> FastAPI:
    app = FastAPI(title="Forager API", version=API_VERSION, lifespan=lifespan, description=DESCRIPTION)
    app.add_exception_handler(UploadError, _upload_error)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(BadCursor, _bad_cursor)
    for module in ROUTERS:
        app.include_router(module.router)
    app.include_router(sessions.router)
    app.include_router(trace_routes.router)
    app.include_router(campaign_routes.router)
    app.include_router(web_router, include_in_schema=False)
    app.add_middleware(sessions.BodyLimit)
    app.openapi = lambda: openapi_with_trajectory(app)  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def openapi_document(app: FastAPI | None = None) -> str:
    """The OpenAPI schema as committed in api/openapi.json (sorted keys, 2-space indent)."""
    return json.dumps((app or create_app()).openapi(), indent=2, sort_keys=True) + "\n"


app = create_app()
