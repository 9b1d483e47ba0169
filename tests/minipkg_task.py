"""The minipkg fixture as a task: ``mean`` broken by the setup patch (shared by agent, trust and
replay tests; the ``task`` fixture itself is registered in conftest)."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CALC_PATH = "src/minipkg/calc.py"
CALC = (FIXTURES / "minipkg" / CALC_PATH).read_text()
GOOD = "return sum(values) / len(values)"
BAD = "return sum(values) / (len(values) + 1)"
BROKEN = CALC.replace(GOOD, BAD)
F2P = ["tests/test_calc.py::test_mean"]
P2P = ["tests/test_calc.py::test_mean_empty", "tests/test_calc.py::test_clamp",
       "tests/test_calc.py::test_running_total", "tests/test_text.py::test_slugify"]


def udiff(before: str, after: str, path: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"a/{path}", f"b/{path}"))


def _containers(label: str = "forager.episode", mine: bool = False) -> set[str]:
    """Containers with ``label``; with ``mine``, only this process's (other test runs on the same
    engine may run episodes meanwhile)."""
    from forager.owner import OWNER_LABEL, this_process

    owner = ["--filter", f"label={OWNER_LABEL}={this_process()}"] if mine else []
    out = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label={label}", *owner],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.fixture
def task(minipkg_build: Any, runtime: Any) -> Any:
    """A real task row on the built minipkg image: ``mean`` broken by the setup patch."""
    from forager.store import db

    with db.session() as s:
        s.merge(db.Build(id=minipkg_build.build_id, source=minipkg_build.source, status="validated",
                         image=minipkg_build.image, test_command=minipkg_build.test_command))
        s.flush()
        s.merge(db.Image(id=minipkg_build.image, build_id=minipkg_build.build_id,
                         digest=runtime.image_digest(minipkg_build.image) or "",
                         source=minipkg_build.source, python=minipkg_build.python or "3.11",
                         test_command=minipkg_build.test_command))
        s.flush()
        row = db.Task(kind="mutate-fix", image_id=minipkg_build.image,
                      setup_patch=udiff(CALC, BROKEN, CALC_PATH), gold_patch=udiff(BROKEN, CALC, CALC_PATH),
                      fail_to_pass=F2P, pass_to_pass=P2P,
                      problem_statement="mean() returns the wrong value: mean([1, 2, 3, 4]) should be 2.5.")
        s.add(row)
    return row


