"""The call collector's import-time calls, run with a real pytest on the importpkg fixture (no
engine: the collector's root is pointed at a copy of the fixture): a function that module-level
code calls while a conftest imports the package, or while a test imports a module, is an
import-time function (a change to it can break tests that never call it), and files imported
before the collector loaded are listed as such."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from forager.tasks.baseline import Baseline
from forager.tasks.trace_plugin import TRACE_PLUGIN, TRACE_SOURCE

FIXTURES = Path(__file__).parent.parent / "fixtures"
UNITS = "src/importpkg/units.py"


def _trace(tmp_path: Path, extra: list[str] | None = None) -> tuple[dict[str, list[str]], set[str], list[str]]:
    repo = tmp_path / "repo"
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / f"{TRACE_PLUGIN}.py").write_text(TRACE_SOURCE.replace('_root = "/repo/"', f'_root = "{repo}/"'))
    (plugins / "early_import.py").write_text("import importpkg  # noqa: F401\n")
    out = tmp_path / "trace.json"
    env = {"PYTHONPATH": f"{plugins}:{repo / 'src'}", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(extra or []),
                           "-p", TRACE_PLUGIN, f"--forager-trace={out}", "tests"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = json.loads(out.read_text())
    return calls, set(json.loads(Path(f"{out}.import").read_text())), json.loads(Path(f"{out}.preimported").read_text())


def test_a_function_called_while_a_conftest_imports_the_package_is_import_time(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "importpkg", tmp_path / "repo")
    calls, at_import, pre = _trace(tmp_path)
    normalise, convert = f"{UNITS}:1", f"{UNITS}:14"
    # the tests that call normalise do not include the table's, which its import-time call breaks
    assert not any("test_table" in t for t in calls[normalise]) and calls[normalise]
    assert normalise in at_import and convert not in at_import and pre == []
    base = Baseline([], {}, {}, 0.0, import_time={(UNITS, 1)})
    assert base.at_import(UNITS, 1) and not base.at_import(UNITS, 14)


def test_calls_while_a_test_imports_a_module_and_files_imported_before_the_collector(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "importpkg", repo)
    (repo / "src/importpkg/late.py").write_text("from importpkg.units import convert\n\nTWO_KM = convert(2, 'km')\n")
    (repo / "tests/test_late.py").write_text(
        "def test_late():\n    from importpkg.late import TWO_KM\n\n    assert TWO_KM == 2000.0\n")
    calls, at_import, pre = _trace(tmp_path)
    assert f"{UNITS}:14" in at_import and calls[f"{UNITS}:14"]  # convert, run by late.py's body
    _, _, pre = _trace(_fresh(tmp_path), ["-p", "early_import"])
    assert UNITS in pre and "src/importpkg/__init__.py" in pre
    assert Baseline([], {}, {}, 0.0, preimported=set(pre)).at_import(UNITS, 14)


def _fresh(tmp_path: Path) -> Path:
    other = tmp_path / "again"
    other.mkdir()
    shutil.copytree(tmp_path / "repo", other / "repo")
    return other
