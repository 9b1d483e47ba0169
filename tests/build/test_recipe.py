"""The recipe records its changes the same way whoever makes them (no Docker)."""

from __future__ import annotations

from forager.build.recipe import InstallMode, Recipe


def test_changes_are_recorded_through_methods() -> None:
    r = Recipe(python="3.11", test_command="python -m pytest", test_paths=["tests"])
    r.record_repair(0, "pretend-version", "VCS version not found")
    r.record_repair(1, "install", "no module yaml", value="PyYAML", ok=True)
    r.record_repair(2, "imports-of", "optional imports", value="tests/t.py", ok=True, found=["x"])
    assert [list(x) for x in r.repairs] == [["round", "fix", "why"], ["round", "fix", "value", "why", "ok"],
                                           ["round", "fix", "value", "why", "ok", "found"]]
    assert r.tried() == {("install", "PyYAML"), ("imports-of", "tests/t.py")}
    r.ignore("tests/bad.py")
    r.add_pytest_args("--timeout=5")
    assert r.ignores("tests/bad.py") and r.has_pytest_arg("--timeout")
    assert r.full_test_command() == "python -m pytest --ignore=tests/bad.py --timeout=5 tests"
    r.installed_as(InstallMode.PATH)
    assert r.to_dict()["install_mode"] == "path" and r.install_spec() == "."
