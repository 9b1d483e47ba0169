"""Shared fixtures. Docker-backed tests use the real engine; with CI=true a missing engine is a
failure, never a skip."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from minipkg_task import task  # noqa: F401 - the minipkg task fixture, shared by test modules
from needs import unavailable

from forager.config import reset_settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def migrated_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite registry at the newest schema, made once: each test starts from a copy
    (migrating a new database costs four times as much as checking a copy)."""
    from forager.store.session import upgrade

    path = tmp_path_factory.mktemp("registry") / "forager.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def forager_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                 migrated_registry: Path) -> Iterator[Path]:
    """Each test gets its own FORAGER_HOME (database, trajectories); Docker images are shared."""
    home = tmp_path_factory.mktemp("home")
    shutil.copyfile(migrated_registry, home / "forager.db")
    monkeypatch.setenv("FORAGER_HOME", str(home))
    reset_settings()
    yield home
    reset_settings()


def _engine_or_fail():  # type: ignore[no-untyped-def]
    from forager.errors import EngineError
    from forager.runtime import get_runtime

    try:
        return get_runtime()
    except EngineError as exc:
        unavailable(f"no Docker engine: {exc}")


@pytest.fixture(scope="session")
def runtime():  # type: ignore[no-untyped-def]
    return _engine_or_fail()


@pytest.fixture(scope="session")
def minipkg_build(runtime, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The fixture package built and validated once per session (its database kept aside)."""
    from fixture_builds import build_in_home

    return build_in_home(FIXTURES / "minipkg", tmp_path_factory.mktemp("build-home"))


SLOW_FIXTURES = {"runtime", "minipkg_build", "task", "services", "workers", "fuzz_auth", "chromium"}
"""Fixtures that reach a Docker engine, Redis/PostgreSQL or a browser (directly or through others)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``fast`` every test that needs no engine and no services: ``pytest -m fast`` runs them
    alone, in seconds. A test that reaches Docker, services or a browser another way is marked
    ``docker``, ``services`` or ``browser`` by hand."""
    for item in items:
        slow = any(item.get_closest_marker(m) for m in ("docker", "services", "browser"))
        if not slow and not SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fast)
