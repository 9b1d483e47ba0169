"""How much of the repository's suite a validation runs: the test functions found statically
(``def test*`` at module level and in test classes of every test file) against the test functions
the run reported (parameter sets folded into their function). And how the maintainers name their
suite: ``pytest --pyargs NAME`` in tox, nox or the CI."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from forager.build.detect.testpaths import test_files

PYARGS = re.compile(r"\bpytest\b[^\n]*?--pyargs\s+([A-Za-z_][\w.]*)")


def _functions(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef) and (node.name.startswith("Test") or any(
                "TestCase" in ast.unparse(b) for b in node.bases)):
            names += [f"{node.name}::{f.name}" for f in node.body
                      if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and f.name.startswith("test")]
    return names


def static_test_functions(root: Path) -> set[str]:
    """``path::[Class::]function`` of every test function in the repository's test files."""
    found: set[str] = set()
    for path in test_files(root):
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except (SyntaxError, ValueError):
            continue
        rel = path.relative_to(root).as_posix()
        found.update(f"{rel}::{name}" for name in _functions(tree))
    return found


def function_of(test_id: str) -> str:
    """A test id without its parameter set: ``a.py::T::f[1-2]`` -> ``a.py::T::f``."""
    return re.sub(r"\[.*\]$", "", test_id)


def suite_share(static: set[str], ran_ids: list[str]) -> dict[str, int]:
    """Test functions found, test functions the run ran (of those found), and the share in %."""
    ran = {function_of(t) for t in ran_ids}
    matched = len(ran & static) if static else 0
    share = round(100 * matched / len(static)) if static else (100 if ran else 0)
    return {"test_functions": len(static), "functions_run": matched, "suite_share_pct": min(100, share)}


def pyargs_package(root: Path) -> str | None:
    """The package the maintainers run the suite of with ``pytest --pyargs NAME``, if they do."""
    texts = [root / "tox.ini", root / "noxfile.py", *sorted((root / ".github" / "workflows").glob("*.y*ml"))]
    for path in texts:
        if path.is_file() and (m := PYARGS.search(path.read_text(errors="replace"))):
            top = m.group(1).split(".")[0]
            if (root / top).is_dir() or (root / "src" / top).is_dir():
                return m.group(1)
    return None
