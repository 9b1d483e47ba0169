"""Which Python a repository is built for: requires-python, classifiers, tox envlist, and the
order of preference among the Pythons Forager can make bases for."""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from forager.build.detect.project_files import ProjectFiles, split_reqs

PYTHONS = ("3.11", "3.13", "3.9")
"""The Pythons Forager can bootstrap bases for (Debian bookworm, trixie, bullseye)."""
FULL_VERSIONS = {"3.9": "3.9.2", "3.11": "3.11.2", "3.13": "3.13.5"}
"""The release each base ships, for environment markers on ``python_full_version``."""


def preference(default: str) -> tuple[str, ...]:
    """The Pythons to choose from, ``default`` (``Settings.default_python``) first."""
    return (default, *[p for p in PYTHONS if p != default])


def full_version(python: str) -> str:
    return FULL_VERSIONS.get(python, f"{python}.0")


def requires_python(files: ProjectFiles) -> str:
    """The declared requires-python (pyproject, setup.cfg, setup.py, Poetry's python dependency)."""
    spec = (files.project.get("requires-python") or files.cfg("options", "python_requires")
            or files.setup_py.get("python_requires"))
    poetry_py = files.poetry.get("dependencies", {}).get("python")
    if not spec and isinstance(poetry_py, str) and re.match(r"^[\^~]?\d", poetry_py):
        spec = ">=" + poetry_py.lstrip("^~").split(",")[0]
    return str(spec or "")


def classifiers(files: ProjectFiles) -> list[str]:
    found = list(files.project.get("classifiers", []))
    if files.setup_cfg.has_option("metadata", "classifiers"):
        found += split_reqs(files.setup_cfg.get("metadata", "classifiers"))
    return found + [c for c in files.setup_py.get("classifiers", []) if isinstance(c, str)]


def _classifier_versions(files: ProjectFiles) -> list[tuple[int, ...]]:
    return sorted({tuple(int(x) for x in m.group(1).split(".")) for c in classifiers(files)
                   if (m := re.match(r"Programming Language :: Python :: (3\.\d+)$", c))})


def _tox_versions(files: ProjectFiles) -> list[tuple[int, ...]]:
    envlist = files.tox.get("tox", "envlist", fallback="")
    return sorted({(int(a), int(b)) for a, b in re.findall(r"\bpy([23])(\d{1,2})\b", envlist)})


def choose_python(files: ProjectFiles, available: tuple[str, ...]) -> tuple[str, str]:
    """The first of ``available`` that requires-python allows (3.9 for projects whose classifiers
    or tox envs stop before 3.10 and that declare no requires-python); and a note saying why."""
    spec_text = requires_python(files)
    try:
        spec = SpecifierSet(spec_text) if spec_text else SpecifierSet()
    except InvalidSpecifier:
        spec = SpecifierSet()
    declared = _classifier_versions(files)
    candidates = [p for p in available if spec.contains(f"{p}.0", prereleases=True)] or list(available)
    choice = candidates[0]
    versions = declared or _tox_versions(files)
    if versions and not spec_text and versions[-1] < (3, 10) and "3.9" in candidates:
        choice = "3.9"
    note = f"python {choice}: requires-python {spec_text or '(none)'}"
    if declared:
        note += f", classifiers up to {'.'.join(map(str, declared[-1]))}"
    return choice, note
