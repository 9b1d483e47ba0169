"""The task as an episode sees it (``TaskSpec``), read from the registry, and bringing a sandbox to
the task state (``setup_task``)."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from forager.errors import NotFound, SandboxError

if TYPE_CHECKING:
    from forager.episode.environment import Environment


@dataclass
class TaskSpec:
    id: str
    image: str
    setup_patch: str
    gold_patch: str
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    problem_statement: str
    test_command: str
    kind: str = ""
    repository: str = ""
    image_digest: str = ""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables the image's recipe sets for its tests."""


def _from_registry(task_id: str) -> TaskSpec:
    from forager.store.tasks_db import get_task

    row = get_task(task_id)
    if row is None:
        raise NotFound(f"no task {task_id!r}")
    return task_spec(row)


def task_spec(task: Any) -> TaskSpec:
    """A task from a ``TaskSpec``, a ``db.Task`` row, a dict, or a task id (looked up in the
    registry; ``NotFound`` when it is not there). The image's test command, source, digest and
    test environment fill what the task itself does not say."""
    if isinstance(task, TaskSpec):
        return task
    if isinstance(task, str):
        return _from_registry(task)
    from forager.store.episodes import ImageFacts, image_facts

    get: Callable[..., Any] = task.get if isinstance(task, Mapping) else lambda k, d=None: getattr(task, k, d)
    image_id = str(get("image_id") or get("image") or "")
    test_command = str(get("test_command") or "")
    repository = str(get("repository") or "")
    env = dict(get("env") or {})
    facts = image_facts(image_id) if image_id else ImageFacts()
    return TaskSpec(
        id=str(get("id") or ""), image=image_id, setup_patch=str(get("setup_patch") or ""),
        gold_patch=str(get("gold_patch") or ""), fail_to_pass=list(get("fail_to_pass") or []),
        pass_to_pass=list(get("pass_to_pass") or []),
        problem_statement=str(get("problem_statement") or ""),
        test_command=test_command or facts.test_command, kind=str(get("kind") or ""),
        repository=repository or facts.source, image_digest=facts.digest, env=env or facts.env)


def setup_task(env: Environment, task: Any) -> None:
    """Bring the environment to the task state: apply the setup patch, remember that state."""
    spec = task_spec(task)
    env.test_command = spec.test_command
    if spec.env:  # exported once; the shell keeps exported variables between commands
        env.run("export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in spec.env.items()), timeout=30)
    obs = env.apply_patch(spec.setup_patch)
    if obs.exit_code != 0:
        raise SandboxError(f"the task's setup patch does not apply: {obs.output.strip()[:500]}")
    env.base_tree = env.snapshot_tree()
