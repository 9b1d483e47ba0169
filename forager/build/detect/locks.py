"""Dependencies as the maintainers pinned them: lock files (``uv.lock``, ``poetry.lock``,
``pdm.lock``, ``Pipfile.lock``) and constraint files, read into pins (``name==version``) that every
install of the build is constrained to. Only index packages with one locked version are pinned:
the project itself, path/git/editable sources and packages locked at several versions (one per
environment marker) are left to the resolver."""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

CONSTRAINTS_PATH = "/opt/forager/constraints.txt"
"""Where the dependency layer keeps the pins (``PIP_CONSTRAINT`` points there)."""
LOCK_FILES = ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock")
CONSTRAINT_FILES = ("constraints.txt", "constraints/*.txt", "requirements/constraints*.txt", "ci/constraints*.txt")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([\w.!+-]+)\s*(;.*)?$")


def _toml_packages(path: Path) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(errors="replace"))
    except (tomllib.TOMLDecodeError, OSError):
        return []
    packages = data.get("package", [])
    return [p for p in packages if isinstance(p, dict)] if isinstance(packages, list) else []


def _from_index(package: dict[str, Any]) -> bool:
    source = package.get("source")
    if not isinstance(source, dict):
        return True  # poetry/pdm: index packages carry no source table (or a legacy one below)
    return bool(source.get("registry")) or source.get("type") in ("legacy", "pypi")


def _pipfile(path: Path) -> list[tuple[str, str]]:
    try:
        data = json.loads(path.read_text(errors="replace"))
    except (json.JSONDecodeError, OSError):
        return []
    out = []
    for section in ("default", "develop"):
        for name, spec in (data.get(section) or {}).items():
            version = spec.get("version", "") if isinstance(spec, dict) else ""
            if version.startswith("==") and not {"path", "git", "file", "editable"} & set(spec):
                out.append((name, version[2:]))
    return out


def locked_versions(path: Path) -> list[tuple[str, str]]:
    """(name, version) of the index packages a lock file pins."""
    if path.name == "Pipfile.lock":
        return _pipfile(path)
    return [(str(p["name"]), str(p["version"])) for p in _toml_packages(path)
            if p.get("name") and p.get("version") and _from_index(p)]


def _pins(pairs: list[tuple[str, str]], own_name: str) -> list[str]:
    versions: dict[str, set[str]] = defaultdict(set)
    for name, version in pairs:
        versions[canonicalize_name(name)].add(version)
    own = canonicalize_name(own_name) if own_name else ""
    return sorted(f"{n}=={next(iter(v))}" for n, v in versions.items() if len(v) == 1 and n != own)


def constraint_pins(path: Path) -> list[tuple[str, str]]:
    """``name==version`` lines of a constraint (or fully pinned requirement) file."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [(m.group(1), m.group(3)) for line in lines if (m := PIN.match(line.split(" #")[0].strip()))
            and not m.group(4)]


def lock_pins(root: Path, own_name: str) -> tuple[str, list[str]]:
    """(the file read, its pins): the first lock file found, else the constraint files; ("", [])."""
    for name in LOCK_FILES:
        if (root / name).is_file() and (pins := _pins(locked_versions(root / name), own_name)):
            return name, pins
    found = [p for pattern in CONSTRAINT_FILES for p in sorted(root.glob(pattern)) if p.is_file()]
    pairs = [pair for p in found for pair in constraint_pins(p)]
    if pairs:
        return ", ".join(str(p.relative_to(root)) for p in found), _pins(pairs, own_name)
    return "", []
