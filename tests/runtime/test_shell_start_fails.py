"""A shell whose process dies as it starts (the engine refused the exec) is a ``SandboxError`` at
once, not a loop of restarts (it used to recurse until Python's recursion limit)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

import pytest

from forager.errors import SandboxError
from forager.runtime.shell import Shell


class RefusingSandbox:
    """Every interactive process prints the engine's refusal and exits at once."""

    id = "refusing"
    name = "refusing"
    pid_namespace = True

    def __init__(self) -> None:
        self.started = 0

    def path(self, path: str) -> str:
        return path

    def interactive(self, argv: Sequence[str], *, user: str = "root", env: Mapping[str, str] | None = None,
                    workdir: str = "/") -> subprocess.Popen[bytes]:
        self.started += 1
        return subprocess.Popen([sys.executable, "-c", "print('OCI runtime exec failed: broken pipe')"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_shell_that_cannot_start_raises_instead_of_restarting_forever() -> None:
    box = RefusingSandbox()
    with pytest.raises(SandboxError, match="the shell did not start"):
        Shell(box, output_limit=1000)  # type: ignore[arg-type]
    assert box.started == 1
