"""Errors that stop a suite before or around its tests: pytest's INTERNALERROR at start-up
(warnings that the project's ``filterwarnings = error`` turns into errors with a newer pytest or
plugin) and one cause behind errors at setup/teardown of most tests. Both are read like
collection errors: allow the deprecation, set the option the plugin asks for, step pytest or the
plugin down a version."""

from __future__ import annotations

import re
from collections import Counter

from forager.build.repair.fixes import Fix, FixKind
from forager.build.testrun import TestRun

DEPRECATION = re.compile(r"\b(PytestRemovedIn\d+Warning|PytestDeprecationWarning|DeprecationWarning|"
                         r"PendingDeprecationWarning)\b|config\.inicfg is deprecated")
PLUGIN_FRAME = re.compile(r"site-packages/(pytest_[a-z0-9_]+|[a-z0-9_]+_pytest)/")
PYTEST_FRAME = re.compile(r"site-packages/_?pytest/")
PYTEST_OBJECT = re.compile(r"'(Config|FixtureRequest|SubRequest|Node|Item|Function|Session|Metafunc|Parser|Module"
                           r"|Package|Class|CallInfo|TestReport|PytestPluginManager|FixtureDef)' object has no "
                           r"attribute|_pytest\.\w+")
"""A pytest object's attribute gone: the suite uses a pytest internal a newer pytest removed."""
LOOP_SCOPE = "asyncio_default_fixture_loop_scope"
MOST = 0.5
"""Share of a run's tests that must error at setup/teardown for their common cause to be repaired."""


def allow_deprecations(why: str) -> list[Fix]:
    """Command-line -W filters win over the ini's ``filterwarnings = error``, also at start-up."""
    return [Fix(FixKind.ARG, "-W ignore::DeprecationWarning", why),
            Fix(FixKind.ARG, "-W ignore::PendingDeprecationWarning", why)]


def _plugin_dist(text: str) -> str | None:
    """The plugin distribution whose code raised last in a traceback."""
    found = PLUGIN_FRAME.findall(text)
    return found[-1].replace("_", "-") if found else None


def cause_fixes(text: str, where: str) -> list[Fix]:
    """Fixes for one start-up or setup error text: the option a plugin asks for, deprecations
    allowed, else the plugin (or pytest) whose code raised stepped down."""
    fixes: list[Fix] = []
    if LOOP_SCOPE in text:
        fixes.append(Fix(FixKind.ARG, f"-o {LOOP_SCOPE}=function", f"{where}: pytest-asyncio asks for it"))
    if DEPRECATION.search(text):
        fixes += allow_deprecations(f"{where}: deprecation warnings turned into errors by the configuration")
    if not fixes and (plugin := _plugin_dist(text)):
        fixes.append(Fix(FixKind.STEP_DOWN, plugin, f"{where}: the plugin {plugin} fails"))
    elif not fixes and (PYTEST_FRAME.search(text) or PYTEST_OBJECT.search(text)):
        fixes.append(Fix(FixKind.PYTEST_DOWNGRADE, "", f"{where}: pytest itself fails"))
    return fixes


def internal_error_fixes(output: str) -> list[Fix]:
    """pytest ended with INTERNALERROR (nothing ran): read its traceback."""
    lines = [ln for ln in output.splitlines() if ln.startswith("INTERNALERROR>")]
    return cause_fixes("\n".join(lines), "INTERNALERROR at start-up") if lines else []


def _cause(message: str) -> str:
    """The last ``E   ...`` line of a failure (its exception), else its last line."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E ")]
    return (errors[-1] if errors else lines[-1] if lines else "")[:300]


def common_setup_error(run: TestRun) -> str | None:
    """A message standing for one cause behind errors (at setup or teardown) of most tests."""
    errors = [r for r in run.results.values() if r.outcome == "error" and not r.collection]
    if len(errors) < 2 or len(errors) < MOST * len(run.results):
        return None
    cause, n = Counter(_cause(r.message) for r in errors).most_common(1)[0]
    if not cause or n < MOST * len(errors):
        return None
    return next(r.message for r in errors if _cause(r.message) == cause)


def setup_error_fixes(run: TestRun) -> list[Fix]:
    message = common_setup_error(run)
    return cause_fixes(message, "most tests error at setup with one cause") if message else []
