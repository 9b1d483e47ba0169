"""Linter items are not the repository's tests: pytest plugins that turn every file into a lint
or type check (pytest-ruff, pytest-mypy, pytest-black, pytest-flake8, …) judge the style of the
code with whatever linter release the image got, not its behaviour. When such items fail or error
(pytest-ruff 0.3 asserts at setup under ``-p no:cacheprovider``, which every Forager run uses; a
newer linter finds new complaints in a past commit), the plugin is switched off with
``-p no:NAME`` so the pass rate measures the tests (jaraco's projects enable these plugins through
pytest-enabler, which leaves a blocked plugin alone)."""

from __future__ import annotations

import re

from forager.build.repair.fixes import Fix, FixKind
from forager.build.testrun import TestRun

LINT_ITEMS = {
    "ruff": "ruff", "ruff::format": "ruff", "mypy": "mypy", "mypy-status": "mypy", "black": "black",
    "flake-8::flake8": "flake8", "flake8": "flake8", "isort": "isort", "pylint": "pylint",
    "pycodestyle": "pycodestyle", "codestyle": "codestyle",
}
"""The tail of a lint item's node id (lower case) -> the plugin's name for ``-p no:NAME``."""
ITEM_TAIL = re.compile(r"(?:^|::)((?:ruff|flake-8)::\w+|[\w-]+)$")
BAD = ("failed", "error")


def lint_plugin(test_id: str) -> str | None:
    """The lint plugin whose item ``test_id`` is, or None for a test of the repository."""
    m = ITEM_TAIL.search(test_id.lower())
    return LINT_ITEMS.get(m.group(1)) if m and "::" in test_id else None


def lint_fixes(run: TestRun) -> list[Fix]:
    """``-p no:NAME`` for each lint plugin with an item that failed or errored."""
    bad: dict[str, int] = {}
    for result in run.results.values():
        if result.outcome in BAD and not result.collection and (plugin := lint_plugin(result.id)):
            bad[plugin] = bad.get(plugin, 0) + 1
    return [Fix(FixKind.ARG, f"-p no:{plugin}", f"{n} lint item(s) of the {plugin} plugin failed: style "
                                                 "checks, not the repository's tests")
            for plugin, n in sorted(bad.items())]
