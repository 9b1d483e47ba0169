"""The keep/discard rules on candidates that hang the tests or do not apply (minipkg container)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tasks_samples import (
    PATCH,
    minipkg_home_fixture,  # noqa: F401 - registers the minipkg_home fixture
)

from forager.config import reset_settings
from forager.store import db
from forager.tasks.baseline import Baseline
from forager.tasks.candidates import Candidate
from forager.tasks.evaluate import evaluate
from forager.tasks.mutations import unified_patch
from forager.tasks.workspace import Workspace

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.mark.docker
def test_hanging_or_broken_candidates_are_discarded(runtime, minipkg_home: str,  # type: ignore[no-untyped-def]
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_TEST_TIMEOUT_S", "15")
    reset_settings()
    with db.session() as s:
        img = s.get(db.Image, minipkg_home)
        assert img is not None
        command = img.test_command
        rows = s.query(db.TestResult).filter_by(build_id=img.build_id, outcome="passed")
        passed = [r.test_id for r in rows]
    calc = (FIXTURES / "minipkg" / "src" / "minipkg" / "calc.py").read_text()
    looping = calc.replace("    if not values:\n", "    while True:\n        pass\n    if not values:\n", 1)
    hang = unified_patch("src/minipkg/calc.py", calc, looping)
    ws = Workspace(minipkg_home, command, lambda _: None)
    try:
        baseline = Baseline(passed, {}, {}, 2.0)
        fields, reason = evaluate(ws, Candidate("mutate-fix", "hang", "function", setup_patch=hang,
                                                gold_patch="x\n", relevant_tests=passed[:2]), baseline, set())
        assert fields is None and reason.startswith("hangs"), reason
        fields, reason = evaluate(ws, Candidate("mutate-fix", "bad", "operators", setup_patch=PATCH,
                                                gold_patch=PATCH), baseline, set())
        assert fields is None and "does not apply" in reason
    finally:
        ws.remove()
