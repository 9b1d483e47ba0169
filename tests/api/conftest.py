"""The API tests' shared fixtures: an app on a fresh registry with a token of each scope, and a
registry holding credentials that must never be shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_client import JSON, SECRET_SOURCE, Api, open_api, traj

from forager.store import db
from forager.trajectory.schema import ModelInfo


@pytest.fixture
def api() -> Iterator[Api]:
    with open_api() as opened:
        yield opened


@pytest.fixture
def secrets_stored(api: Api) -> str:
    """A build from a source with credentials and an oracle trajectory showing a gold patch."""
    with db.session() as s:
        s.add(db.Build(id="build-secret", source=SECRET_SOURCE, status="failed",
                       error=f"fatal: unable to access '{SECRET_SOURCE}/': 403"))
        s.add(db.BuildLog(build_id="build-secret", step="clone", command=f"git clone {SECRET_SOURCE}",
                          output=f"Cloning into '{SECRET_SOURCE}'", duration_s=0.1))
    r = api.client.post("/v1/trajectories", headers={**api.write, **JSON},
                        content=traj(model=ModelInfo(name="m", url="https://u:model-pw@llm.example/v1"),
                                     agent="oracle").model_dump_json())
    return r.json()["id"]
