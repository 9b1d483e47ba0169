"""Requirement specs and requirement files: what to keep (index distributions a test run needs,
for the chosen Python) and what to leave out (tooling, local paths, other Pythons' files)."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from forager.build.detect.pythons import full_version
from forager.config import get_settings

TOOLING = re.compile(
    r"^(tox|tox-.*|nox|pre-commit|sphinx.*|furo|myst-.*|mkdocs.*|mypy|mypy-.*|black|flake8.*|ruff|pylint"
    r"|isort|twine|build|wheel|check-manifest|coveralls|codecov|types-.*|towncrier|bump.*|ipython"
    r"|ipdb|jupyter.*|notebook|pyright|pydocstyle|pycodestyle|autopep8|yapf|bandit|safety|docformatter"
    r"|readme-renderer|setuptools-scm|virtualenv|pip-tools|pipdeptree|commitizen|doc8|restructuredtext-lint"
    r"|pyroma|interrogate|vulture|darglint|blacken-docs|sphinx_rtd_theme|numpydoc|nbsphinx|pip|poetry"
    r"|hatch|pdm|flit|setuptools|tbump|zest\.releaser|prospector|pytest-(flake8|mypy|black|isort|pylint"
    r"|pycodestyle|ruff|mypy-plugins)|pyupgrade|codespell|pip-audit|uv|gitpython)$",
    re.I,
)
"""Tooling that a test run does not need: left out to keep installs small and likely to succeed."""
REQ_FILE_PATTERNS = ("requirements*.txt", "requirements/*.txt", "reqs/*.txt", "test-requirements*.txt",
                     "test_requirements*.txt", "dev-requirements*.txt", "requirements-*.txt",
                     "tests/requirements*.txt", "ci/requirements*.txt", "requirements*.in")
REQ_FILE_SKIP = re.compile(r"doc|lint|mypy|typing|release|publish|bench|format|style|pre-commit|build|"
                           r"upload|deploy|min(imum)?[-_]?(version|req)|lowest|oldest", re.I)


def _marker_env(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": full_version(python), "sys_platform": "linux",
            "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "extra": ""}


def clean_requirement(line: str, python: str | None = None, tooling: bool = False) -> str | None:
    """A PEP 508 requirement without local paths, editable installs or pip options, whose marker
    holds on ``python`` (default: ``Settings.default_python``); None to skip (tooling too, unless
    ``tooling``)."""
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith(("#", "-", ".", "/", "git+", "http://", "https://")) or "@ file:" in line:
        return None
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    if req.marker is not None:
        try:
            if not req.marker.evaluate(_marker_env(python or get_settings().default_python)):
                return None
        except Exception:  # noqa: BLE001 - an exotic marker: keep the requirement
            pass
    return None if TOOLING.match(req.name) and not tooling else line


def requirement_key(spec: str) -> str:
    """The normalised distribution name of a requirement spec."""
    return re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower().replace("_", "-")


def final_deps(deps: list[str], own_name: str) -> list[str]:
    """pytest first: the project's own pytest pin when it declares one (so the dependency layer's
    plugins, pytest-timeout among them, resolve against the pytest the tests get: pyjwt 2.10.1's
    ``pytest>=6,<7`` arrived only with the project's extras and left the newest pytest-timeout
    broken on pytest 6), ``<8`` added for nose-style suites; one spelling per distribution (the
    first), and never the project itself."""
    nose = any(re.match(r"^nose\b", d, re.I) for d in deps)
    pinned = next((d for d in deps if re.match(r"^pytest\s*[<>=!~]", d) and ";" not in d), None)
    pins = [f"{pinned},<8" if nose else pinned] if pinned else ["pytest<8"] if nose else ["pytest"]
    ordered = pins + [d for d in deps if not re.match(r"^pytest\s*([<>=!~].*)?$", d)] + [
        d for d in deps if re.match(r"^pytest\s*[<>=!~]", d)]
    own = own_name.lower().replace("_", "-") if own_name else None
    seen: set[str] = set()
    out: list[str] = []
    for d in ordered:
        key = requirement_key(d)
        if key not in seen:
            seen.add(key)
            if requirement_key(d) != own:
                out.append(d)
    return out


def listed_requirement_files(root: Path) -> list[str]:
    """Requirement files found by name (documentation, lint and release ones left out)."""
    found: list[str] = []
    for pattern in REQ_FILE_PATTERNS:
        for f in sorted(root.glob(pattern)):
            rel = str(f.relative_to(root))
            if f.is_file() and rel not in found and not REQ_FILE_SKIP.search(f.name):
                found.append(rel)
    return found


def wanted_requirement_file(rel: str, python: str) -> bool:
    """Leave out documentation/lint files and files pinned for another Python version."""
    if REQ_FILE_SKIP.search(rel):
        return False
    for m in re.finditer(r"(?:^|[/_.-])(?:py|python)?([23])\.?(\d{1,2})(?=$|[/_.-])", rel):
        if f"{m.group(1)}.{m.group(2)}" != python:
            return False
    return True


DEV_FILE = re.compile(r"^(?:requirements[-_.]?)?dev(?:el(?:op(?:ment)?)?)?(?:[-_]requirements)?\.(?:txt|in)$", re.I)
"""A developer's requirement file (``requirements/dev.txt``, ``requirements-dev.txt``, ``dev-requirements.txt``)."""


def without_redundant_dev_files(files: list[str]) -> list[str]:
    """Developer requirement files left out when a test requirement file is chosen too: they add
    the docs and typing pins (pallets' pip-compiled ``requirements/dev.txt``: 48 s of a 109 s cold
    build of click) to what the test file already holds; a missing module is still repaired."""
    tests = [f for f in files if re.search(r"test", Path(f).name, re.I) and not DEV_FILE.match(Path(f).name)]
    return [f for f in files if not (tests and DEV_FILE.match(Path(f).name))]
