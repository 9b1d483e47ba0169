"""Start-up INTERNALERRORs and one cause behind setup errors of most tests are repaired like
collection errors (no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.recipe import Recipe
from forager.build.repair.plan import plan_collection, plan_run
from forager.build.repair.startup import common_setup_error
from forager.build.testrun import TestOutcome, TestRun
from forager.runtime import ExecResult

INICFG = """INTERNALERROR> Traceback (most recent call last):
INTERNALERROR>   File "/opt/venv/lib/python3.11/site-packages/_pytest/main.py", line 283, in wrap_session
INTERNALERROR>     config._do_configure()
INTERNALERROR>   File "/opt/venv/lib/python3.11/site-packages/pytest_randomly/__init__.py", line 99, in configure
INTERNALERROR>     value = config.inicfg.get("randomly")
INTERNALERROR> pytest.PytestRemovedIn10Warning: config.inicfg is deprecated, use config.getini() instead.
"""
LOOP = """INTERNALERROR> Traceback (most recent call last):
INTERNALERROR>   File "/opt/venv/lib/python3.11/site-packages/pytest_asyncio/plugin.py", line 217, in configure
INTERNALERROR>     config.issue_config_time_warning(PytestDeprecationWarning(_DEFAULT_FIXTURE_LOOP_SCOPE_UNSET), 2)
INTERNALERROR> pytest.PytestDeprecationWarning: The configuration option "asyncio_default_fixture_loop_scope" is unset.
"""
PLUGIN = """INTERNALERROR> Traceback (most recent call last):
INTERNALERROR>   File "/opt/venv/lib/python3.11/site-packages/pytest_sugar.py", line 9, in x
INTERNALERROR>   File "/opt/venv/lib/python3.11/site-packages/pytest_oddplugin/hooks.py", line 9, in pytest_configure
INTERNALERROR> TypeError: unexpected argument
"""


def _values(fixes: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(f.kind.value, f.value) for f in fixes}


def test_start_up_internal_errors_are_read(tmp_path: Path) -> None:
    assert _values(plan_collection(INICFG, Recipe(), tmp_path)) == {
        ("arg", "-W ignore::DeprecationWarning"), ("arg", "-W ignore::PendingDeprecationWarning")}
    assert ("arg", "-o asyncio_default_fixture_loop_scope=function") in _values(
        plan_collection(LOOP, Recipe(), tmp_path))
    assert _values(plan_collection(PLUGIN, Recipe(), tmp_path)) == {("step-down", "pytest-oddplugin")}


def _run(n_error: int, n_pass: int, message: str) -> TestRun:
    results = {f"t::e{i}": TestOutcome(f"t::e{i}", "error", message=message) for i in range(n_error)}
    results |= {f"t::p{i}": TestOutcome(f"t::p{i}", "passed") for i in range(n_pass)}
    return TestRun(ExecResult(1, "", 1.0), results)


SETUP = """    @pytest.fixture(autouse=True)
    def _env(request):
>       ini = request.config.inicfg
E       AttributeError: 'Config' object has no attribute 'inicfg'

tests/conftest.py:7: AttributeError"""


def test_setup_errors_of_most_tests_with_one_cause_step_pytest_down(tmp_path: Path) -> None:
    run = _run(40, 2, SETUP)
    assert common_setup_error(run) == SETUP
    assert _values(plan_run(run, Recipe(), tmp_path)) == {("pytest-downgrade", "")}
    # a few errors among many passes, or many different causes, are the tests' own business
    assert plan_run(_run(3, 40, SETUP), Recipe(), tmp_path) == []
    mixed = _run(0, 1, "")
    mixed.results |= {f"t::x{i}": TestOutcome(f"t::x{i}", "error", message=f"E   ValueError: {i}") for i in range(9)}
    assert common_setup_error(mixed) is None
