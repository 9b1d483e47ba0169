"""Which Python a repository is built for: requires-python, classifiers, tox envlist, and the
order of preference among the Pythons Forager can make bases for."""

from __future__ import annotations

import re
from datetime import date, timedelta

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
    if not spec and isinstance(poetry_py, str):
        spec = poetry_python(poetry_py)
    return str(spec or "")


def _poetry_part(part: str) -> str:
    """One Poetry constraint as a PEP 440 specifier: ``^3.8`` -> ``>=3.8,<4``, ``~3.8`` ->
    ``>=3.8,<3.9``, a bare ``3.8`` -> ``>=3.8`` (as read before), ``>=3.7`` as it is."""
    part = part.strip()
    m = re.fullmatch(r"([\^~])\s*(\d+)(?:\.(\d+))?(?:\.\d+)*", part)
    if m:
        major, minor = int(m.group(2)), int(m.group(3) or 0)
        upper = f"<{major + 1}" if m.group(1) == "^" or m.group(3) is None else f"<{major}.{minor + 1}"
        return f">={part.lstrip('^~ ')},{upper}"
    if re.fullmatch(r"\d+(\.\d+)*", part):
        return f">={part}"
    return part.replace(" ", "")


def poetry_python(value: str) -> str:
    """Poetry's ``python`` dependency as a requires-python specifier (``>=3.7`` was read as none
    before: tomlkit 0.12 at 2024-02); alternatives (``||``) give the newest one; "" when not read."""
    alternative = re.sub(r"(?<=[<>=!~^])\s+", "", value.split("||")[-1].strip())
    if not alternative or alternative == "*":
        return ""
    spec = ",".join(_poetry_part(p) for p in re.split(r"[,\s]+(?=[<>=!^~\d])", alternative) if p.strip())
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        return ""
    return spec


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


RELEASED = {"3.9": date(2020, 10, 5), "3.11": date(2022, 10, 24), "3.13": date(2024, 10, 7)}
"""When each Python of a base came out."""
SETTLE_DAYS = 180
"""How long after its release a Python counts as the one of a commit's time (wheels, CI catch up)."""


def _version(python: str) -> tuple[int, ...]:
    return tuple(int(x) for x in python.split("."))


def of_its_time(candidates: list[str], as_of: str | None) -> list[str]:
    """The candidates already settled at the commit's date ``as_of`` (ISO 8601), in their order;
    the oldest candidate when none was (a commit from before every base's Python)."""
    if not as_of or not candidates:
        return candidates
    when = date.fromisoformat(as_of[:10])
    settled = [p for p in candidates if p not in RELEASED or RELEASED[p] + timedelta(SETTLE_DAYS) <= when]
    return settled or [min(candidates, key=_version)]


def choose_python(files: ProjectFiles, available: tuple[str, ...], as_of: str | None = None) -> tuple[str, str]:
    """The first of ``available`` that requires-python allows and that was settled at the
    commit's date ``as_of`` (a 2022 commit gets 3.9, not 3.11), stepped down to the newest one the
    project declares (classifiers, else tox envs) when it declares none as new; and a note why."""
    spec_text = requires_python(files)
    try:
        spec = SpecifierSet(spec_text) if spec_text else SpecifierSet()
    except InvalidSpecifier:
        spec = SpecifierSet()
    declared = _classifier_versions(files)
    candidates = [p for p in available if spec.contains(f"{p}.0", prereleases=True)] or list(available)
    timely = of_its_time(candidates, as_of)
    choice = timely[0]
    versions = declared or _tox_versions(files)
    if versions and versions[-1] < _version(choice):
        older = [p for p in timely if _version(p) <= versions[-1]]
        choice = max(older, key=_version) if older else min(timely, key=_version)
    note = f"python {choice}: requires-python {spec_text or '(none)'}"
    if declared:
        note += f", classifiers up to {'.'.join(map(str, declared[-1]))}"
    elif versions:
        note += f", tox envs up to {'.'.join(map(str, versions[-1]))}"
    if timely[0] != candidates[0]:
        note += f", commit of {str(as_of)[:10]} (Python {candidates[0]} not yet settled then)"
    return choice, note
