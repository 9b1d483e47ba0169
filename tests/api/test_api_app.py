"""The committed OpenAPI contract (drift), the served docs, and fuzzing every operation for server errors."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest
import schemathesis
from api_client import (
    ROOT,
    Api,
    auth,
)
from hypothesis import HealthCheck, settings
from needs import unavailable
from schemathesis.checks import not_a_server_error

from forager.api.app import create_app, openapi_document
from forager.config import reset_settings


def test_served_openapi_matches_the_committed_schema(api: Api) -> None:
    committed = (ROOT / "api" / "openapi.json").read_text()
    served = openapi_document(api.client.app)  # type: ignore[arg-type]
    assert served == committed, "schema drifted: run `forager api --openapi api/openapi.json` and commit"
    assert api.client.get("/openapi.json").json() == json.loads(committed)
    assert api.client.get("/docs").status_code == 200


fuzz_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@schemathesis.serializer("application/x-ndjson", "application/gzip")
def _raw_bytes(ctx, value):  # type: ignore[no-untyped-def]
    """The .jsonl(.gz) upload bodies are strings/bytes in the schema: send them as they are."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


@pytest.fixture
def fuzz_auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An admin token; jobs go to a Redis queue of their own that no worker reads (nothing runs)."""
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"Redis is not reachable: {exc}")
    prefix = f"forager-fuzz-{os.getpid()}-{time.monotonic_ns()}:"
    monkeypatch.setenv("FORAGER_EXECUTOR", "celery")
    monkeypatch.setenv("FORAGER_REDIS_KEY_PREFIX", prefix)
    reset_settings()
    yield auth("admin")
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = list(r.scan_iter(match=f"{prefix}*"))
    if keys:
        r.delete(*keys)


@pytest.mark.services
@fuzz_schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_fuzzed_requests_never_get_a_server_error(case, fuzz_auth: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = case.call(headers=fuzz_auth)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, response.text
