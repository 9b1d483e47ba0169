"""The setup agent, the builder's last path (with a model endpoint set; without one nothing
changes): a model works in a build container with the repository's own documents (README,
CONTRIBUTING, CI workflows, tox/nox) and the last failure, one shell command at a time. After each
command that succeeds the container is snapshotted; a command that fails is rolled back (the
container started again from the last snapshot). The commands that worked become the recipe's
setup commands, which the builder then validates like any recipe."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forager.build.context import BuildContext
from forager.build.install import prepare_repo
from forager.build.steplog import tail
from forager.model.base import Message, Model, ModelConfig, ModelError
from forager.model.registry import get_model
from forager.runtime import Sandbox, get_runtime
from forager.runtime.pipcache import discard_pip_overlay

MAX_STEPS = 15
DOCS = ("README.md", "README.rst", "README.txt", "README", "CONTRIBUTING.md", "CONTRIBUTING.rst", "tox.ini",
        "noxfile.py", "Makefile", "pytest.ini", "setup.cfg", "pyproject.toml")
DOC_CHARS = 3000
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": "bash", "description": "Run a shell command in /repo (network on).",
                                      "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                                                     "required": ["command"]}}},
    {"type": "function", "function": {"name": "done", "description": "The tests now run with pytest.",
                                      "parameters": {"type": "object", "properties": {}}}}]
SYSTEM = ("You set up a Python repository at /repo (a virtualenv is active) so that its test suite runs "
          "with `python -m pytest`. Use the repository's own documents. Run one shell command per call; "
          "commands that fail are rolled back. Call done when the tests run.")


@dataclass
class AgentOutcome:
    commands: list[str] = field(default_factory=list)
    """Commands that succeeded, in order (the recipe's setup commands)."""
    rolled_back: list[str] = field(default_factory=list)
    finished: bool = False
    error: str = ""


def repository_documents(root: Path) -> str:
    """The repository's own instructions, each cut to DOC_CHARS."""
    paths = [root / d for d in DOCS] + sorted((root / ".github" / "workflows").glob("*.y*ml"))
    parts = []
    for p in paths:
        if p.is_file():
            parts.append(f"--- {p.relative_to(root)}\n{p.read_text(errors='replace')[:DOC_CHARS]}")
    return "\n\n".join(parts)


def _model(ctx: BuildContext) -> Model:
    s = ctx.settings
    return get_model("openai", url=s.model_url, model=s.model_name or "default", api_key=s.model_api_key,
                     config=ModelConfig.from_settings(s))


class _Session:
    """The agent's container, snapshotted after each good command, rolled back after a bad one."""

    def __init__(self, ctx: BuildContext, deps: str) -> None:
        self.ctx, self.rt = ctx, get_runtime()
        self.snapshot = f"{ctx.settings.image_prefix}/agent-snapshot:{ctx.build_id}"
        self.box: Sandbox = self._start(deps)
        prepare_repo(self.box, ctx)
        self.box.commit(self.snapshot, workdir="/repo")

    def _start(self, image: str) -> Sandbox:
        return self.rt.start(image, name=self.ctx.container_name("agent"), limits=self.ctx.limits(network=True),
                             build_mounts=True, labels=self.ctx.labels("build-repo"))

    def run(self, command: str) -> tuple[bool, str]:
        res = self.box.exec(command, self.ctx.settings.install_timeout_s, workdir="/repo")
        self.ctx.log.step("setup agent", command, res)
        if res.ok:
            self.box.commit(self.snapshot, workdir="/repo")
        else:  # roll back: the container again from the last snapshot
            self.box.remove()
            self.box = self._start(self.snapshot)
        return res.ok, tail(res.output, 4000)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.box.remove()
        discard_pip_overlay(self.rt, self.ctx.container_name("agent"))
        with contextlib.suppress(Exception):
            self.rt.remove_image(self.snapshot)


def _turns(model: Model, session: _Session, messages: list[Message], out: AgentOutcome) -> None:
    for _ in range(MAX_STEPS):
        reply = model.complete(messages, TOOLS)
        messages.append(reply.raw_message or {"role": "assistant", "content": reply.content})
        if not reply.tool_calls:
            return
        for call in reply.tool_calls:
            if call.name == "done":
                out.finished = True
                return
            command = str(call.arguments.get("command", ""))
            ok, output = session.run(command) if command else (False, "no command")
            (out.commands if ok else out.rolled_back).append(command)
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": json.dumps({"ok": ok, "output": output, "rolled_back": not ok})})


def run_setup_agent(ctx: BuildContext, deps: str, failure: str) -> AgentOutcome:
    """Let the model set the repository up in a container on ``deps``; what worked."""
    out = AgentOutcome()
    model = _model(ctx)
    session = _Session(ctx, deps)
    messages: list[Message] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"The last attempt failed: {failure[:2000]}\n\n"
                                    f"{repository_documents(ctx.src.path)}"}]
    try:
        _turns(model, session, messages, out)
    except ModelError as exc:
        out.error = str(exc)
    finally:
        session.close()
        model.close()
    return out
