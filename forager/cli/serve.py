"""``forager api`` and ``forager worker``: the long-running processes (REST API, Celery worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forager.cli.app import console, fail
from forager.enums import Queue


def api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    openapi: Annotated[str | None, typer.Option(help="write the OpenAPI schema here, then exit")] = None,
) -> None:
    """Serve the REST API (uvicorn); docs at /docs."""
    if openapi:
        from forager.api.app import openapi_document

        Path(openapi).write_text(openapi_document())
        console.print(f"wrote {openapi}")
        return
    import uvicorn

    uvicorn.run("forager.api.app:app", host=host, port=port, log_level="info")


def worker(
    queues: Annotated[str, typer.Option(help="comma-separated: build, tasks, agent")] = ",".join(Queue),
    concurrency: Annotated[int, typer.Option(help="jobs run at once by this worker")] = 1,
    name: Annotated[str | None, typer.Option(help="Celery node name (default forager-QUEUES@host)")] = None,
) -> None:
    """Run a Celery worker for the given queues (Redis broker at FORAGER_REDIS_URL)."""
    from forager.jobs.celery_app import run_worker

    try:
        run_worker([q.strip() for q in queues.split(",") if q.strip()], concurrency, name)
    except ValueError as exc:
        fail(exc, 2)
