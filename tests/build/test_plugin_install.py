"""The reporter plugin is checked after it is written and written again when a step failed on its
way (no Docker: a sandbox whose execs fail as a loaded engine's sometimes do)."""

from __future__ import annotations

import pytest

from forager.build.report_plugin import PLUGIN_NAME
from forager.build.testrun import PLUGIN_FOUND, install_plugin
from forager.errors import EngineError
from forager.runtime import ExecResult

PURELIB = "/opt/venv/lib/python3.11/site-packages"


class FlakySandbox:
    """Answers the site-packages query with a failed exec the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.files: dict[str, bytes] = {}

    def exec(self, command: str, timeout: float, **_: object) -> ExecResult:
        if "sysconfig" in command:
            if self.failures > 0:
                self.failures -= 1
                return ExecResult(-1, "[forager: exec failed: connection aborted]", 0.1)
            return ExecResult(0, PURELIB + "\n", 0.1)
        if command == PLUGIN_FOUND:
            return ExecResult(0 if f"{PURELIB}/{PLUGIN_NAME}.py" in self.files else 1, "", 0.1)
        raise AssertionError(command)

    def put_files(self, files: dict[str, bytes], dest: str = "/") -> None:
        self.files.update(files)


def test_a_failed_exec_is_tried_again() -> None:
    box = FlakySandbox(failures=1)
    install_plugin(box)  # type: ignore[arg-type]
    assert f"{PURELIB}/{PLUGIN_NAME}.py" in box.files


def test_a_plugin_never_found_is_an_engine_error() -> None:
    box = FlakySandbox(failures=5)
    with pytest.raises(EngineError, match=PLUGIN_NAME):
        install_plugin(box)  # type: ignore[arg-type]
    assert not box.files
