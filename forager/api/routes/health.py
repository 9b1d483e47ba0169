"""``GET /healthz``: open (no token), says whether the registry answers."""

from __future__ import annotations

from fastapi import APIRouter, Response

from forager.api.deps import SettingsDep
from forager.api.schemas import Health
from forager.api.version import API_VERSION
from forager.store.health import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(response: Response, settings: SettingsDep) -> Health:
    try:
        ping()
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure to reach the registry is "degraded", not a 500
        database = f"error: {type(exc).__name__}"
        response.status_code = 503
    return Health(status="ok" if database == "ok" else "degraded", database=database,
                  executor=settings.executor, version=API_VERSION)
