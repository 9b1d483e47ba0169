"""Git submodules the checkout declares but does not hold (they could not be fetched: no network
to their host, a private or vanished repository). A suite that reads one fails in ways that say
nothing of the cause (tomlkit 0.13 at 2024-11: its conftest lists ``tests/toml-test/tests`` for
every test, so every file fails to collect); the recipe notes which are missing, so the build log
names the cause."""

from __future__ import annotations

import re
from pathlib import Path

PATH_LINE = re.compile(r"^\s*path\s*=\s*(.+?)\s*$", re.M)


def declared_submodules(root: Path) -> list[str]:
    """The ``path`` of every submodule in ``.gitmodules`` (inside the tree only)."""
    try:
        text = (root / ".gitmodules").read_text(errors="replace")
    except OSError:
        return []
    paths = [p.strip().strip('"') for p in PATH_LINE.findall(text)]
    return [p for p in paths if p and not p.startswith(("/", "..")) and ".." not in Path(p).parts]


def missing_submodules(root: Path) -> list[str]:
    """Declared submodules whose folder is absent or empty in the checkout."""
    return [p for p in declared_submodules(root)
            if not (root / p).is_dir() or not any((root / p).iterdir())]
