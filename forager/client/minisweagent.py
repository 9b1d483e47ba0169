"""mini-swe-agent in a Forager session: ``ForagerEnvironment`` is an environment of mini-swe-agent
(its ``Environment`` protocol: ``execute(action, cwd="", *, timeout=None) -> {"output",
"returncode", "exception_info"}``, ``get_template_vars()``, ``serialize()``) whose commands run
through the session's ``bash`` tool, so the farm records them and the observations are the
container's.

As in mini-swe-agent's own environments, each command starts in ``cwd`` (``/repo``), and an output
whose first line is ``COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`` ends the run: the session is submitted
(the reward judged by the farm) and ``Submitted`` is raised with the reward in its ``extra``. The
per-command timeout is the session's (``limits.action_timeout_s``); a ``timeout`` asked for is
ignored."""

from __future__ import annotations

import os
import platform
import shlex
from typing import Any

from pydantic import BaseModel

from forager.client.api import ApiError, Client

os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
from minisweagent.exceptions import Submitted  # noqa: E402 - after silencing its start-up banner
from minisweagent.utils.serialize import recursive_merge  # noqa: E402

SUBMIT_MARKER = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


class ForagerEnvironmentConfig(BaseModel):
    session_id: str
    cwd: str = "/repo"


class ForagerEnvironment:
    def __init__(self, client: Client, session_id: str, cwd: str = "/repo") -> None:
        self.client = client
        self.config = ForagerEnvironmentConfig(session_id=session_id, cwd=cwd)
        self.reward: dict[str, Any] | None = None
        """The judged reward once the agent submitted."""

    def execute(self, action: dict[str, Any], cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        command = str(action.get("command", ""))
        workdir = cwd or self.config.cwd
        full = f"cd {shlex.quote(workdir)} && {command}" if workdir else command
        try:
            out = self.client.bash(self.config.session_id, full)
        except ApiError as exc:
            return {"output": "", "returncode": -1, "exception_info": f"forager session: {exc}"}
        output = {"output": out["observation"],
                  "returncode": out["exit_code"] if out["exit_code"] is not None else -1,
                  "exception_info": "the command timed out and was killed" if out["timed_out"] else ""}
        self._check_finished(output)
        return output

    def _check_finished(self, output: dict[str, Any]) -> None:
        lines = str(output.get("output", "")).lstrip().splitlines(keepends=True)
        if not (lines and lines[0].strip() == SUBMIT_MARKER and output["returncode"] == 0):
            return
        judged = self.client.submit(self.config.session_id)
        self.reward = judged.get("reward")
        submission = "".join(lines[1:])
        raise Submitted({"role": "exit", "content": submission,
                         "extra": {"exit_status": "Submitted", "submission": submission,
                                   "forager_reward": self.reward, "resolved": judged.get("resolved")}})

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        return recursive_merge(self.config.model_dump(), platform.uname()._asdict(), kwargs)

    def serialize(self) -> dict[str, Any]:
        return {"info": {"config": {"environment": self.config.model_dump(mode="json"),
                                    "environment_type": f"{type(self).__module__}.{type(self).__name__}"}}}
