"""An unknown mark's warning turned into a collection error by ``filterwarnings = error`` installs
the mark's plugin, as a strict-markers error does (responses at 2025-01: three test files left out
for ``pytest.mark.asyncio`` without pytest-asyncio; no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.recipe import Recipe
from forager.build.repair.plan import plan_collection

OUTPUT = """
==================================== ERRORS ====================================
______________ ERROR collecting responses/tests/test_matchers.py _______________
responses/tests/test_responses.py:2290: in <module>
/opt/venv/lib/python3.11/site-packages/_pytest/mark/structures.py:546: in __getattr__
E   pytest.PytestUnknownMarkWarning: Unknown pytest.mark.asyncio - is this a typo?  You can register custom marks
______________ ERROR collecting responses/tests/test_responses.py ______________
E   pytest.PytestUnknownMarkWarning: Unknown pytest.mark.asyncio - is this a typo?  You can register custom marks
E   pytest.PytestUnknownMarkWarning: Unknown pytest.mark.slowish - is this a typo?  You can register custom marks
"""


def test_unknown_mark_errors_install_the_marks_plugin(tmp_path: Path) -> None:
    fixes = plan_collection(OUTPUT, Recipe(), tmp_path)
    assert [(f.kind.value, f.value) for f in fixes] == [("install", "pytest-asyncio")]
