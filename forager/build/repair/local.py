"""Local first: a module that exists anywhere in the repository is the repository's own and is
never installed from an index (a public distribution of the same name is a supply-chain risk, not
a fix). When the tests cannot import it, its folder is put on the path the way the repository's
own configuration does (pytest's ``pythonpath`` option, a ``PYTHONPATH`` in tox or the CI)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import yaml

from forager.build.detect.project_files import ProjectFiles, pytest_option
from forager.build.detect.testpaths import SKIP_PARTS

INSTALLED_ROOTS = ("", "src", "lib")
"""Folders the project install itself puts on the path."""
MAX_FILES = 200_000


def local_modules(root: Path) -> dict[str, str]:
    """Every importable top-level name in the repository -> the folder (relative, "" for the root)
    holding it, the shallowest first: packages (any folder named like one) and modules."""
    found: dict[str, str] = {}
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_PARTS and not d.endswith(".egg-info")
                             and not d.startswith("."))
        seen += len(filenames)
        if seen > MAX_FILES:
            break
        if "__init__.py" in filenames:
            continue  # inside a package: its modules are pkg.mod, never top-level names
        for name in filenames:
            if name.endswith(".py") and name.isascii():
                found.setdefault(name[:-3], rel)
        for d in dirnames:  # packages, namespace packages included
            if d.isidentifier():
                found.setdefault(d, rel)
    return found


def local_dir(root: Path, module: str) -> str | None:
    """The folder that holds ``module`` (its top-level name) in the repository, or None."""
    top = module.split(".")[0]
    return None if top in sys.stdlib_module_names else local_modules(root).get(top)


def configured_paths(files: ProjectFiles) -> list[str]:
    """Folders the repository's configuration puts on sys.path for its tests: pytest's
    ``pythonpath``, tox's ``setenv`` and the CI's ``PYTHONPATH``; relative to the root."""
    ini = files.pytest_ini_options().get("pythonpath") or pytest_option(files.root, "pythonpath") or []
    paths = ini.split() if isinstance(ini, str) else [str(p) for p in ini]
    setenv = files.tox.get("testenv", "setenv", fallback="")
    paths += [p for m in re.finditer(r"PYTHONPATH\s*=\s*(\S+)", setenv) for p in m.group(1).split(":")]
    paths += _ci_pythonpath(files.root)
    out = []
    for p in (p for p in paths if ".." not in p):
        p = re.sub(r"^(\{toxinidir\}|\$\{\{\s*github\.workspace\s*\}\}|\$GITHUB_WORKSPACE|\$PWD|\.)/?", "", p)
        if "$" not in p and "{" not in p and not p.startswith("/") and p not in out:
            out.append(p.rstrip("/"))
    return out


def _ci_pythonpath(root: Path) -> list[str]:
    paths: list[str] = []
    for wf in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        try:
            text = re.sub(r"\$\{\{\s*github\.workspace\s*\}\}", ".", wf.read_text(errors="replace"))
            yaml.safe_load(text)
        except (yaml.YAMLError, OSError):
            continue
        for m in re.finditer(r"PYTHONPATH[:=]\s*['\"]?([^\s'\"]+)", text):
            paths += [p for p in m.group(1).split(":") if p]
    return paths


def pythonpath_value(dirs: list[str], current: str = "") -> str:
    """``PYTHONPATH`` with ``dirs`` (relative to /repo) added after what it holds."""
    parts = [p for p in current.split(":") if p]
    for d in dirs:
        path = f"/repo/{d}".rstrip("/") if d else "/repo"
        if path not in parts:
            parts.append(path)
    return ":".join(parts)
