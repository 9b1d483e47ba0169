"""A function that module-level code calls (here while the repository's conftest imports the
package, as attrs' does) changes what other tests see without those tests ever calling it: the
importpkg fixture builds ``UNITS`` with ``normalise`` at import, and ``tests/test_table.py`` reads
the table only. A task on ``normalise`` must be judged by the whole suite in a fresh process, so
that its FAIL_TO_PASS holds the table's tests and no PASS_TO_PASS test fails in the task state."""

from __future__ import annotations

from pathlib import Path

import pytest

from forager.config import reset_settings
from forager.store.tasks_db import get_task
from forager.tasks.generate import generate
from forager.tasks.verify import verify

pytestmark = pytest.mark.docker
FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(scope="module")
def importpkg_build(runtime, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from fixture_builds import build_in_home

    result = build_in_home(FIXTURES / "importpkg", tmp_path_factory.mktemp("importpkg-home"))
    return result.home, str(result.image)


def test_a_function_module_level_code_calls_is_judged_by_the_whole_suite(
        importpkg_build, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    home, image = importpkg_build
    monkeypatch.setenv("FORAGER_HOME", str(home))
    reset_settings()
    res = generate(image, "mutate-fix", 30, seed=0, max_candidates=40)
    assert res.error is None, res.summary()
    tasks = [get_task(t["id"]) for t in res.tasks]
    on_normalise = [t for t in tasks if t is not None and t.meta.get("function") == "normalise"]
    assert on_normalise, res.summary()
    assert any("tests/test_table.py::test_kilometre" in t.fail_to_pass for t in on_normalise)
    assert all("whole suite" in t.meta["established"]["fail_to_pass_fail_in_task_state"] for t in on_normalise)
    report = verify(0, ids=[t.id for t in on_normalise])
    assert report["checked"] == len(on_normalise) and report["disagreements"] == 0, report
    assert report["p2p_failing_in_task_state"] == 0, report
    # the gold state of every task is the image itself: one fresh full run of it serves them all
    assert report["image_runs"] == 1 and all("image" in v["gold_state"] for v in report["verdicts"])
    # an excluded test path runs in neither state and its tests are reported unchecked
    one = verify(0, ids=[on_normalise[0].id], exclude=["tests/test_table.py"])
    assert one["disagreements"] == 0 and one["unchecked_tests"] == 3, one


def test_the_call_map_is_kept_for_the_next_generation(importpkg_build, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    home, image = importpkg_build
    monkeypatch.setenv("FORAGER_HOME", str(home))
    reset_settings()
    first = generate(image, "implement-feature", 1, seed=0)
    second = generate(image, "mutate-fix", 1, seed=0)
    assert first.error is None and second.error is None
    assert second.callmap_cached is True and list((Path(home) / "callmaps").glob("*.json"))
