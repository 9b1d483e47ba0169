"""Reading why tests fail to collect or run, and proposing fixes (pure: nothing runs here)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from forager.build.detect.declared import declared_extras
from forager.build.detect.project_files import ProjectFiles, pytest_option, read_toml
from forager.build.recipe import Recipe
from forager.build.repair.fixes import Fix, FixKind
from forager.build.repair.lint import lint_fixes
from forager.build.repair.local import INSTALLED_ROOTS, local_modules, pythonpath_value
from forager.build.repair.startup import allow_deprecations, internal_error_fixes, setup_error_fixes
from forager.build.repair.tables import (
    FIXTURE_TO_DIST,
    INI_TO_DIST,
    MARKER_TO_DIST,
    OPTION_TO_DIST,
    PY2_STDLIB,
    dist_for_module,
)
from forager.build.testrun import TestRun
from forager.build.toolchain import missing_tools

TOO_NEW = re.compile(
    r"PluginValidationError|has no attribute '(yield_fixture|funcargnames|_fillfuncargs|getfuncargvalue)'"
    r"|unexpected keyword argument '(path|fspath)'|pytest\.warns\(None\)|Direct construction of \w+ has"
    r"|no attribute 'from_parent'|'startdir'|py\.path|Unknown hook specification|TestReport\.fspath")
"""The suite uses pytest APIs that newer pytest releases removed."""
FAILED = ("failed", "error")


def addopts(root: Path) -> str:
    """The ``addopts`` of the pytest configuration (pyproject first, then the ini files)."""
    value = read_toml(root / "pyproject.toml").get("tool", {}).get("pytest", {}).get("ini_options", {}).get(
        "addopts")
    if value is not None:
        return " ".join(value) if isinstance(value, list) else str(value)
    return (pytest_option(root, "addopts") or "").replace("\n", " ")


def _last_frame(output: str) -> str:
    frames = re.findall(r'^\s*File "([^"]+)"', output, re.M)
    return frames[-1] if frames else ""


def _pytest_broken(output: str) -> bool:
    """pytest fails to import or start (e.g. an old pin on a new Python)."""
    last_line = output.strip().splitlines()[-1] if output.strip() else ""
    return (output.lstrip().startswith("Traceback")
            and re.search(r"site-packages/_?pytest/", _last_frame(output)) is not None  # not a plugin's
            and re.match(r"(ImportError|ModuleNotFoundError|SyntaxError|AttributeError|TypeError)", last_line)
            is not None)


def _start_up_fixes(output: str) -> list[Fix]:
    """pytest itself cannot start or load the suite: fixed before anything else."""
    if TOO_NEW.search(output):
        return [Fix(FixKind.PYTEST_DOWNGRADE, "", "the suite uses pytest APIs that the installed pytest removed")]
    if "site-packages/pytest_cov/" in output and output.lstrip().startswith("Traceback"):
        return [Fix(FixKind.ARG, "--no-cov", "the coverage plugin fails at start-up; coverage is not needed")]
    if _pytest_broken(output):
        # pytest itself does not run on this Python (an old pin): upgrade it first
        return [Fix(FixKind.INSTALL, "pytest>=7", "the installed pytest does not import")]
    return internal_error_fixes(output)


def _module_fixes(output: str, recipe: Recipe, root: Path, why: str) -> list[Fix]:
    """Distributions for the modules that ``output`` says are missing. Local first: a module
    that exists anywhere in the repository is never installed from an index; its folder goes on
    PYTHONPATH instead (Python 2 modules are left out)."""
    fixes, on_path = [], []
    local = local_modules(root) if "No module named" in output else {}
    for mod in dict.fromkeys(re.findall(r"No module named '?([\w.]+)'?", output)):
        top = mod.split(".")[0]
        if mod.startswith(("_", "forager_")) or top in PY2_STDLIB:
            continue
        if top in local and top not in sys.stdlib_module_names:
            if local[top] not in INSTALLED_ROOTS:
                on_path.append(local[top])
            continue
        if mod == "distutils":
            fixes.append(Fix(FixKind.INSTALL, "setuptools", f"{why}: distutils (removed in Python 3.12)"))
            continue
        if own := _extra_named(root, top):
            fixes += [Fix(FixKind.INSTALL, req, f"{why}: no module {mod}; the project's extra [{top}]")
                      for req in own]
            continue
        fixes.append(Fix(FixKind.INSTALL, dist_for_module(mod), f"{why}: no module {mod}"))
    if on_path:
        value = pythonpath_value(list(dict.fromkeys(on_path)), recipe.env.get("PYTHONPATH", ""))
        fixes.append(Fix(FixKind.ENV, f"PYTHONPATH={value}",
                         f"{why}: the repository's own module(s) in {', '.join(dict.fromkeys(on_path))}"))
    return fixes


def _extra_named(root: Path, module: str) -> list[str]:
    """The requirements of the project's own extra named like ``module`` (cattrs' ``bson`` extra
    is pymongo, not the unrelated ``bson`` distribution), or []."""
    key = module.lower().replace("_", "-")
    extras = declared_extras(ProjectFiles.read(root)) if root.is_dir() else {}
    return next((list(v) for k, v in extras.items() if k.lower().replace("_", "-") == key and v), [])


def _unknown_option_fixes(output: str, root: Path) -> list[Fix]:
    """Unrecognised command-line options (from addopts): install their plugin, or drop them."""
    m = re.search(r"error: unrecognized arguments: (.+)", output)
    if not m:
        return []
    fixes, drop = [], []
    for arg in m.group(1).split():
        name = arg.split("=")[0]
        dist = next((d for o, d in OPTION_TO_DIST.items() if name == o or name.startswith(o + "-")), "?")
        if dist and dist != "?":
            fixes.append(Fix(FixKind.INSTALL, dist, f"pytest option {name}"))
        else:
            drop.append(arg)
    if drop:
        dropped_names = {d.split("=")[0] for d in drop}
        kept = [o for o in shlex.split(addopts(root)) if o not in drop and o.split("=")[0] not in dropped_names]
        fixes.append(Fix(FixKind.ARG, f"-o addopts={shlex.quote(' '.join(kept))}",
                         f"options without a plugin: {' '.join(drop)}"))
    return fixes


def _plugin_fixes(output: str) -> list[Fix]:
    """Plugins the configuration requires, or whose markers and ini options it uses."""
    fixes = [Fix(FixKind.INSTALL, dist, "required_plugins")
             for plugin in re.findall(r"Missing required plugins?: (.+)", output)
             for dist in re.split(r",\s*", plugin.strip())]
    markers = re.findall(r"'(\w+)' not found in `markers` configuration option", output)
    # an unknown mark's warning made an error by filterwarnings = error (responses 2025-01: asyncio)
    markers += re.findall(r"PytestUnknownMarkWarning: Unknown pytest\.mark\.(\w+)", output)
    for marker in dict.fromkeys(markers):
        if dist := MARKER_TO_DIST.get(marker):
            fixes.append(Fix(FixKind.INSTALL, dist, f"marker {marker}"))
    for opt in re.findall(r"Unknown config option: (\w+)", output):
        if dist := INI_TO_DIST.get(opt):
            fixes.append(Fix(FixKind.INSTALL, dist, f"ini option {opt}"))
    return fixes


def _deprecations_allowed() -> list[Fix]:
    """Deprecation warnings that the suite's filterwarnings=error turns into failures on a newer
    Python or pytest than it was written for (command-line -W filters win over the ini's)."""
    return allow_deprecations("deprecation warnings turned into errors")


def _uncollectable_fixes(output: str, recipe: Recipe) -> list[Fix]:
    """Files that still cannot be collected: first install what they import (also optionally),
    then leave them out so the rest of the suite runs."""
    named = re.findall(r"ERROR collecting (\S+\.py)", output) + re.findall(r"^ERROR (\S+\.py)\b", output, re.M)
    failing = [p for p in dict.fromkeys(named) if not recipe.ignores(p)]
    fixes = _dedupe([Fix(FixKind.IMPORTS_OF, p, "optional imports of a file that cannot be collected")
                     for p in failing], recipe)
    return fixes or [Fix(FixKind.IGNORE, p, "cannot be collected") for p in failing]


def _dedupe(fixes: list[Fix], recipe: Recipe) -> list[Fix]:
    """Each fix once, and none the recipe has already tried."""
    done = recipe.tried()
    out: list[Fix] = []
    for f in fixes:
        if (f.kind, f.value) not in done and f not in out:
            out.append(f)
    return out


def plan_collection(output: str, recipe: Recipe, root: Path) -> list[Fix]:
    """Fixes for what ``pytest --collect-only`` printed."""
    fixes = _start_up_fixes(output) or _module_fixes(output, recipe, root, "collection")
    fixes += _unknown_option_fixes(output, root) + _plugin_fixes(output)
    if re.search(r"^(E|INTERNALERROR>)\s+\S*(PytestRemovedIn\d+Warning|DeprecationWarning|PytestDeprecationWarning)",
                 output, re.M):
        fixes += _deprecations_allowed()
    return _dedupe(fixes, recipe) or _uncollectable_fixes(output, recipe)


def plan_run(run: TestRun, recipe: Recipe, root: Path) -> list[Fix]:
    """Fixes for failures that show only when the tests run: fixtures, lazy imports, async tests."""
    text = "\n".join(r.message for r in run.results.values() if r.outcome in FAILED)
    fixes: list[Fix] = []
    for fixture in set(re.findall(r"fixture '(\w+)' not found", text)):
        if dist := FIXTURE_TO_DIST.get(fixture):
            fixes.append(Fix(FixKind.INSTALL, dist, f"fixture {fixture}"))
    fixes += _module_fixes(text, recipe, root, "test run")
    failing = sum(r.outcome in FAILED for r in run.results.values())
    if TOO_NEW.search(text) and failing > 0.05 * max(1, len(run.results)):
        fixes.append(Fix(FixKind.PYTEST_DOWNGRADE, "", "tests use pytest APIs the installed pytest removed"))
    if "async def functions are not natively supported" in text:
        fixes.append(Fix(FixKind.INSTALL, "pytest-asyncio", "async tests"))
        if "asyncio_mode" not in " ".join(recipe.pytest_args):
            fixes.append(Fix(FixKind.ARG, "-o asyncio_mode=auto", "async tests without markers"))
    if re.search(r"\b(Deprecation|PendingDeprecation)Warning\b", text):
        fixes += _deprecations_allowed()
    fixes += [Fix(FixKind.APT, pkg, "the tests call a tool the image lacks") for pkg in missing_tools(text)]
    if not fixes:  # errors at setup/teardown across most tests with one cause
        fixes = setup_error_fixes(run)
    fixes += lint_fixes(run)  # lint/type-check items of pytest plugins are not the repository's tests
    return _dedupe(fixes, recipe)
