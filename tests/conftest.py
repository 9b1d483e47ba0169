"""Shared fixtures. Docker-backed tests use the real engine; with CI=true a missing engine is a
failure, never a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from minipkg_task import task  # noqa: F401 - the minipkg task fixture, shared by test modules

from forager.config import reset_settings

FIXTURES = Path(__file__).parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def forager_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own FORAGER_HOME (database, trajectories); Docker images are shared."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FORAGER_HOME", str(home))
    reset_settings()
    yield home
    reset_settings()


def unavailable(what: str) -> NoReturn:
    """A real engine, server or program a test needs is missing: a failure with CI=true (CI must
    run every test for real), a skip on a developer's machine without it."""
    if IN_CI:
        pytest.fail(f"CI=true and {what}")
    pytest.skip(what)


def _engine_or_fail():  # type: ignore[no-untyped-def]
    from forager.runtime import RuntimeError_, get_runtime

    try:
        return get_runtime()
    except RuntimeError_ as exc:
        unavailable(f"no Docker engine: {exc}")


@pytest.fixture(scope="session")
def runtime():  # type: ignore[no-untyped-def]
    return _engine_or_fail()


@pytest.fixture(scope="session")
def minipkg_build(runtime, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The fixture package built and validated once per session (its database kept aside)."""
    from forager.builder import build

    home = tmp_path_factory.mktemp("build-home")
    old = os.environ.get("FORAGER_HOME")
    os.environ["FORAGER_HOME"] = str(home)
    reset_settings()
    try:
        result = build(str(FIXTURES / "minipkg"))
    finally:
        if old is None:
            os.environ.pop("FORAGER_HOME", None)
        else:
            os.environ["FORAGER_HOME"] = old
        reset_settings()
    assert result.status == "validated", result.error
    result.home = home  # type: ignore[attr-defined]
    return result
