"""Carrying out fixes in the build container; every applied fix is recorded in the recipe."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from forager.build.pip import pip_install
from forager.build.recipe import Recipe
from forager.build.repair.fixes import Fix, FixKind
from forager.build.repair.tables import PY2_STDLIB, dist_for_module
from forager.build.toolchain import install_tools
from forager.runtime import Sandbox

StepLog = Callable[..., None]
"""``log(step, command="", res=None, note="")``: one build log line."""

FIND_MISSING = """
import ast, importlib.util, os, sys
local = set()  # local first: the repository's own modules are never installed from an index
for top, dirs, files in os.walk("/repo"):
    dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "site-packages")]
    if "__init__.py" in files:
        continue  # inside a package: its modules are pkg.mod, not top-level names
    local.update(f[:-3] for f in files if f.endswith(".py"))
    local.update(dirs)
tree = ast.parse(open(sys.argv[1], encoding="utf-8", errors="replace").read())
mods = set()
for node in ast.walk(tree):
    if isinstance(node, ast.Import):
        mods.update(a.name.split(".")[0] for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        mods.add(node.module.split(".")[0])
for m in sorted(mods):
    try:
        if m not in local and importlib.util.find_spec(m) is None:
            print(m)
    except Exception:
        pass
"""
RECIPE_CHANGES = (FixKind.ARG, FixKind.IGNORE, FixKind.ENV)


@dataclass
class Repairer:
    """Applies one round's fixes in ``box``."""

    box: Sandbox
    recipe: Recipe
    round_no: int
    log: StepLog
    install_timeout_s: float

    def install(self, dist: str, why: str, step: str | None = None) -> bool:
        cmd = pip_install(shlex.quote(dist))
        res = self.box.exec(cmd, self.install_timeout_s, workdir="/repo", env=self.recipe.env)
        self.log(step or f"repair: install {dist}", cmd, res, note=why)
        self.recipe.record_repair(self.round_no, FixKind.INSTALL, why, value=dist, ok=res.ok)
        return res.ok

    def imports_of(self, fix: Fix) -> None:
        """Install what the file imports and the image lacks (the next round may leave it out)."""
        missing = missing_imports(self.box, fix.value)
        self.recipe.record_repair(self.round_no, fix.kind, fix.why, value=fix.value, ok=True, found=missing)
        for mod in missing:
            self.install(dist_for_module(mod), f"imported by {fix.value}")

    def pytest_downgrade(self, fix: Fix) -> bool:
        """A pytest one major version older than the installed one (never older than 6)."""
        res = self.box.exec("python -c 'import pytest; print(pytest.__version__)'", 60)
        major = int(res.output.strip().split(".")[0]) if res.ok and res.output.strip()[:1].isdigit() else 0
        if major <= 6:
            return False
        return self.install(f"pytest<{major}", fix.why, step=f"repair: pytest<{major}")

    def step_down(self, fix: Fix) -> bool:
        """A release of ``fix.value`` one major (one minor for 0.x) older than the installed one."""
        probe = f"import importlib.metadata as m; print(m.version({fix.value!r}))"
        res = self.box.exec(f"python -c {shlex.quote(probe)}", 60)
        parts = res.output.strip().split(".") if res.ok else []
        if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
            return False
        major, minor = int(parts[0]), int(parts[1])
        if major == 0 and minor == 0:
            return False
        bound = f"<{major}" if major > 0 else f"<0.{minor}"
        return self.install(f"{fix.value}{bound}", fix.why, step=f"repair: {fix.value}{bound}")

    def apt(self, fix: Fix) -> bool:
        res = install_tools(self.box, [fix.value], self.install_timeout_s)
        self.log(f"repair: apt-get install {fix.value}", f"apt-get install {fix.value}", res, note=fix.why)
        self.recipe.record_repair(self.round_no, FixKind.APT, fix.why, value=fix.value, ok=res.ok)
        return res.ok

    def change_recipe(self, fix: Fix) -> None:
        """A pytest argument, a left-out file or an environment variable."""
        if fix.kind == FixKind.ARG:
            self.recipe.add_pytest_args(*(shlex.split(fix.value) if fix.value.startswith("-W") else [fix.value]))
        elif fix.kind == FixKind.IGNORE:
            self.recipe.ignore(fix.value)
        else:
            key, _, val = fix.value.partition("=")
            self.recipe.set_env(key, val)
        self.recipe.record_repair(self.round_no, fix.kind, fix.why, value=fix.value, ok=True)
        self.log(f"repair: {fix.kind} {fix.value}", note=fix.why)


def apply(box: Sandbox, fixes: list[Fix], recipe: Recipe, round_no: int, log: StepLog,
          install_timeout_s: float) -> bool:
    """Apply fixes in the build container (installs first); True when anything changed."""
    r = Repairer(box, recipe, round_no, log, install_timeout_s)
    changed = False
    for f in fixes:
        if f.kind == FixKind.INSTALL:
            changed |= r.install(f.value, f.why)
    for f in fixes:
        if f.kind == FixKind.IMPORTS_OF:
            r.imports_of(f)
            changed = True  # tried: the next round may leave the file out
        elif f.kind == FixKind.PYTEST_DOWNGRADE:
            changed |= r.pytest_downgrade(f)
        elif f.kind == FixKind.APT:
            changed |= r.apt(f)
        elif f.kind == FixKind.STEP_DOWN:
            changed |= r.step_down(f)
        elif f.kind in RECIPE_CHANGES:
            r.change_recipe(f)
            changed = True
    return changed


def missing_imports(box: Sandbox, path: str) -> list[str]:
    """Top-level modules that a test file imports (anywhere, also inside try blocks) and that are
    not importable in the image."""
    box.put_files({"/tmp/forager-find-missing.py": FIND_MISSING.encode()})
    res = box.exec(f"python /tmp/forager-find-missing.py {shlex.quote(path)}", 60, workdir="/repo")
    if not res.ok:
        return []
    return [m for m in res.output.split() if m.isidentifier() and m not in PY2_STDLIB
            and not m.startswith("_")][:10]
