"""End-to-end builds for the speed work: uv installs the layers, pip takes over when uv fails,
three validation runs find a test flaky, no build container is left behind (Docker-backed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_builds import PYPROJECT

from forager.build.builder import build
from forager.build.catalogue import show_image
from forager.build.uv import FALLBACK_NOTE
from forager.config import get_settings, reset_settings

pytestmark = pytest.mark.docker

FLAKY = """import sys

def test_steady():
    assert True

def test_only_under_the_short_limit():
    # passes in the first run (the short per-test limit), fails in the others: flaky by construction
    assert "--timeout=30" in " ".join(sys.argv)
"""


def _repo(root: Path, name: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(PYPROJECT.format(name=name))
    (root / "tests").mkdir()
    (root / "tests" / "test_it.py").write_text(FLAKY)
    return root


def _log(build_id: str) -> str:
    return (get_settings().home / "logs" / f"{build_id}.log").read_text()


def test_three_runs_side_by_side_find_the_flaky_test(runtime, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_VALIDATION_RUNS", "3")
    reset_settings()
    r = build(str(_repo(tmp_path / "src", "speedthree")))
    assert r.status == "validated", r.error
    assert r.tests["flaky"] == 1 and r.tests["passed"] == 2
    log = _log(r.build_id)
    assert "validate (run 3)" in log and "validate (second run)" in log
    assert "uv pip install failed" not in log and "Using Python" in log  # the project went in through uv
    info = show_image(r.image)
    assert info is not None
    assert [t["id"].split("::")[-1] for t in info["results"] if t["flaky"]] == ["test_only_under_the_short_limit"]
    assert not runtime.containers({"forager.build": r.build_id})  # removals finished before build() returned


def test_a_build_goes_on_with_pip_when_uv_fails(runtime, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "uv"
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "uv 0.0.0"; exit 0; }\n'
                    'echo "fake uv: cannot install" >&2; exit 2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("FORAGER_UV_BINARY", str(fake))
    monkeypatch.setenv("FORAGER_PIP_CACHE_VOLUME", f"forager-test-uvfail-{tmp_path.name[-8:]}")
    reset_settings()
    try:
        r = build(str(_repo(tmp_path / "src", "speedfallback")))
        assert r.status == "validated", r.error
        log = _log(r.build_id)
        assert "fake uv: cannot install" in log and FALLBACK_NOTE in log
    finally:
        runtime.remove_volume(get_settings().pip_cache_volume)
