"""Sources for campaign tests: the fixture packages, and a git repository with two releases."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=GIT_ENV).stdout.strip()


def released_minipkg(dest: Path) -> Path:
    """minipkg as a git repository with releases v0.1 and v0.2 (a comment apart)."""
    shutil.copytree(FIXTURES / "minipkg", dest)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "first release")
    git(dest, "tag", "v0.1")
    calc = dest / "src" / "minipkg" / "calc.py"
    calc.write_text(calc.read_text() + "\n# second release\n")
    git(dest, "commit", "-qam", "second release")
    git(dest, "tag", "v0.2")
    return dest


def fixture(name: str) -> str:
    return str(FIXTURES / "campaign" / name) if name != "minipkg" else str(FIXTURES / "minipkg")


def sources_file(path: Path, sources: list[str]) -> Path:
    path.write_text("\n".join(sources) + "\n")
    return path
