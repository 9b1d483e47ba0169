"""The recipe: how to install and test one repository, and why.

Detection makes a ``Recipe``; the builder and the repair loop change it only through its methods,
so every change (a repair, an install mode, an extra pytest argument) is recorded the same way.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

TEST_COMMAND = "python -m pytest -p no:cacheprovider --rootdir=/repo"
"""``--rootdir`` pins test ids (paths relative to /repo) whatever else the command line holds."""


class InstallMode(StrEnum):
    EDITABLE = "editable"
    PATH = "path"
    """A .pth to the source tree, for backends without PEP 660 editable installs."""


@dataclass
class Recipe:
    python: str = ""
    name: str = ""
    deps: list[str] = field(default_factory=list)
    """Static requirement specs for the shared dependency layer (runtime + test)."""
    requirement_files: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    install_mode: str = InstallMode.EDITABLE
    test_command: str = "python -m pytest"
    test_paths: list[str] = field(default_factory=list)
    pytest_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Where each choice came from."""
    repairs: list[dict[str, Any]] = field(default_factory=list)
    setup_commands: list[str] = field(default_factory=list)
    """The maintainers' CI setup steps (the CI path): run instead of the static project install."""
    ci: dict[str, Any] = field(default_factory=dict)
    """Where the CI path came from (workflow, job) and the steps it left out, with why."""
    agent: dict[str, Any] = field(default_factory=dict)
    """The setup agent's path: the commands it ran that worked and those rolled back."""
    build_requires: list[str] = field(default_factory=list)
    """The build backend's requirements: in the dependency layer, so the project installs without
    build isolation (no per-build environment to make: the largest part of a warm build)."""
    toolchain: str = ""
    """Why the image carries a C toolchain (compiled extensions), or empty."""
    constraints: list[str] = field(default_factory=list)
    """Pins every install is constrained to (from a lock or constraint file; ``PIP_CONSTRAINT``)."""
    resolution: dict[str, str] = field(default_factory=dict)
    """Which path dependency resolution took: ``lock`` (the file read), ``as_of`` (the commit date
    bounding uploads), or ``latest``."""
    suite: dict[str, int] = field(default_factory=dict)
    """How much of the repository's suite validation runs (``detect.suite.suite_share``)."""
    hanging: list[str] = field(default_factory=list)
    """Tests left out because they ran past the first run's short per-test limit."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def install_spec(self) -> str:
        return f".[{','.join(self.extras)}]" if self.extras else "."

    def full_test_command(self) -> str:
        return " ".join([self.test_command, *self.pytest_args, *self.test_paths])

    # ---- changes, each recorded
    def note(self, text: str) -> None:
        self.notes.append(text)

    def record_repair(self, round_no: int, fix: str, why: str, value: str | None = None,
                      ok: bool | None = None, **extra: Any) -> None:
        """Keep one applied fix (round 0: during the project install)."""
        entry: dict[str, Any] = {"round": round_no, "fix": str(fix)}
        if value is not None:
            entry["value"] = value
        entry["why"] = why
        if ok is not None:
            entry["ok"] = ok
        self.repairs.append({**entry, **extra})

    def tried(self) -> set[tuple[str, str]]:
        """(fix, value) of every repair recorded so far."""
        return {(r["fix"], r["value"]) for r in self.repairs if "value" in r}

    def add_pytest_args(self, *args: str) -> None:
        self.pytest_args.extend(args)

    def has_pytest_arg(self, prefix: str) -> bool:
        return any(a.startswith(prefix) for a in self.pytest_args)

    def ignore(self, path: str) -> None:
        """Leave a test file out of every run."""
        self.pytest_args.append(f"--ignore={path}")

    def ignores(self, path: str) -> bool:
        return f"--ignore={path}" in self.pytest_args

    def leave_out_hanging(self, test_ids: list[str], limit_s: int) -> None:
        """Deselect tests that hang (or run past ``limit_s``), each named in the recipe."""
        for test_id in test_ids:
            if test_id not in self.hanging:
                self.hanging.append(test_id)
                self.pytest_args.append(shlex.quote(f"--deselect={test_id}"))
        self.record_repair(0, "deselect-hanging", f"ran past {limit_s}s in the first run",
                           value=f"{len(test_ids)} test(s)", ok=True)

    def set_env(self, key: str, value: str) -> None:
        self.env[key] = value

    def installed_as(self, mode: InstallMode) -> None:
        self.install_mode = mode
