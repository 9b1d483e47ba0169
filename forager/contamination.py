"""Which public evaluation sets a repository appears in (``data/contamination.yaml``).

Tasks and traces made from such a repository carry ``contaminated`` and the set names, so an
export can leave them out, as the published pipeline did.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import yaml

_PYPI = re.compile(r"^pypi:([A-Za-z0-9._-]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _table() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(GitHub owner/name → sets, PyPI name → sets), lowercased and normalised."""
    text = resources.files("forager").joinpath("data/contamination.yaml").read_text()
    by_github: dict[str, list[str]] = {}
    by_pypi: dict[str, list[str]] = {}
    for row in yaml.safe_load(text):
        sets = [str(s) for s in row["sets"]]
        by_github[str(row["github"]).lower()] = sets
        by_pypi[_norm(str(row["pypi"]))] = sets
    return by_github, by_pypi


def owner_and_name(source: str) -> str | None:
    """``owner/name`` of a git URL or of a fetched mirror (``…/owner+name/repo``), else None."""
    text = source.strip().rstrip("/").removesuffix(".git")
    mirror = re.search(r"([^/+]+)\+([^/]+)/repo$", text)
    if mirror:
        return f"{mirror.group(1)}/{mirror.group(2)}".lower()
    match = re.search(r"(?:github\.com|gitlab\.com)[:/]([^/]+)/([^/]+)$", text)
    return f"{match.group(1)}/{match.group(2)}".lower() if match else None


def evaluation_sets(source: str) -> list[str]:
    """The public evaluation sets whose repositories include ``source`` (empty when none)."""
    by_github, by_pypi = _table()
    pypi = _PYPI.match(source)
    if pypi:
        return list(by_pypi.get(_norm(pypi.group(1)), []))
    full = owner_and_name(source)
    return list(by_github.get(full, [])) if full else []


def is_contaminated(source: str) -> bool:
    return bool(evaluation_sets(source))
