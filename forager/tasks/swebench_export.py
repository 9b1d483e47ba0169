"""``forager tasks export --format swebench``: stored tasks as SWE-bench instances.

What the columns mean for a Forager task (image + setup patch + gold patch):

- ``image_name``: the Forager image; its /repo HEAD is ``environment_setup_commit`` (the commit
  the environment was installed from, as in SWE-bench).
- ``base_commit``: the buggy state without the test patch, as a commit of that repository: a real
  commit of the history when one has exactly that tree (a from-history task's parent), else the
  *state commit* (``swebench_git.state_commit``): ``setup_patch`` applied to the HEAD,
  ``test_patch`` taken back out, committed with fixed author, dates and message, so its id is
  reproducible from the image and the row and checked again on import.
- ``patch``: the gold patch (the fix); ``test_patch``: the tests the harness applies first (empty
  for injected bugs, whose tests are the image's own); ``setup_patch``: HEAD -> task state.
- ``FAIL_TO_PASS`` / ``PASS_TO_PASS``: JSON strings of pytest ids; ``contaminated`` and
  ``evaluation_sets`` say whether the repository is in a public evaluation set.

The state commits are computed in one network-off container per image, never written to it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from forager.contamination import evaluation_sets, owner_and_name
from forager.errors import EngineError, InvalidInput
from forager.runtime import Limits, Runtime, get_runtime
from forager.store import db
from forager.store.swebench_db import tasks_with_images
from forager.store.tasks_query import select_tasks
from forager.tasks import swebench_git as g
from forager.tasks.swebench import SwebenchRow, write_rows

_PYPI_VERSION = re.compile(r"^pypi:[^=]+==(.+)$")


@dataclass
class ExportResult:
    out: str
    exported: list[str] = field(default_factory=list)
    """Task ids written."""
    excluded: list[str] = field(default_factory=list)
    """Tasks left out because their repository is in a public evaluation set."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Task id -> why it could not be exported."""

    def summary(self) -> dict[str, object]:
        return {"out": self.out, "exported": len(self.exported), "excluded_contaminated": len(self.excluded),
                "skipped": self.skipped}


def repo_name(source: str) -> str:
    """``owner/name`` for a git source on GitHub or GitLab (or a fetched mirror), else the source
    spec itself for PyPI, else the folder name of a local source."""
    full = owner_and_name(source)
    if full:
        return full
    if source.startswith("pypi:"):
        return source
    return "local/" + Path(source.rstrip("/")).name


def instance_id(repo: str, task_id: str) -> str:
    """``owner__name-TASKID``, as SWE-bench names instances (other characters made ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", repo.replace("/", "__")) + "-" + task_id


def _version(source: str, described: str) -> str:
    match = _PYPI_VERSION.match(source)
    return match.group(1) if match else described


def _row(task: db.Task, image: db.Image, env_commit: str, base: str, version: str) -> SwebenchRow:
    repo = repo_name(image.source)
    sets = evaluation_sets(image.source)
    return SwebenchRow(
        instance_id=instance_id(repo, task.id), repo=repo, base_commit=base, patch=task.gold_patch,
        test_patch=task.test_patch or "", problem_statement=task.problem_statement, hints_text="",
        FAIL_TO_PASS=list(task.fail_to_pass), PASS_TO_PASS=list(task.pass_to_pass), version=version,
        created_at=task.created_at.isoformat(timespec="seconds") + "Z", environment_setup_commit=env_commit,
        image_name=image.id, setup_patch=task.setup_patch, kind=task.kind, test_command=image.test_command,
        image_digest=image.digest, contaminated=bool(sets), evaluation_sets=sets)


ATTEMPTS = 3
"""Containers tried per image: one lost on the way (removed or killed from outside) is replaced."""


def _in_container(runtime: Runtime, image: db.Image, tasks: list[db.Task], result: ExportResult,
                  rows: list[SwebenchRow]) -> None:
    """Rows of ``tasks`` made in one container; a task whose patches do not make a state is skipped
    with the reason, a lost container raises EngineError."""
    with runtime.start(image.id, name=f"forager-export-{uuid.uuid4().hex[:10]}",
                       limits=Limits.from_settings(network=False), labels={"forager.role": "swebench-export"}) as box:
        env_commit, version = g.head(box), _version(image.source, g.describe(box))
        if not env_commit and g.alive(box):
            result.skipped.update({t.id: f"/repo in {image.id} is not a git repository" for t in tasks})
            return
        for task in tasks:
            try:
                base = g.base_commit(box, env_commit, task.setup_patch, task.test_patch or "",
                                     (task.meta or {}).get("parent"))
            except ValueError as exc:
                if not g.alive(box):
                    raise EngineError(f"the container of {image.id} was lost: {exc}") from None
                result.skipped[task.id] = str(exc)
                continue
            rows.append(_row(task, image, env_commit, base, version))
            result.exported.append(task.id)


def _rows_of_image(runtime: Runtime, image: db.Image, tasks: list[db.Task],
                   result: ExportResult) -> list[SwebenchRow]:
    """The rows of one image's tasks, their base commits computed in one container."""
    if not runtime.image_exists(image.id):
        result.skipped.update({t.id: f"image {image.id} is not in the Docker engine" for t in tasks})
        return []
    rows: list[SwebenchRow] = []
    error = ""
    for _ in range(ATTEMPTS):
        left = [t for t in tasks if t.id not in result.skipped and t.id not in set(result.exported)]
        if not left:
            break
        try:
            _in_container(runtime, image, left, result, rows)
        except Exception as exc:  # noqa: BLE001 - a lost container (engine or API error): try once more
            error = f"{type(exc).__name__}: {exc}"[:300]
    done = set(result.exported) | set(result.skipped)
    result.skipped.update({t.id: f"no container of {image.id} lasted: {error}" for t in tasks if t.id not in done})
    return rows


def export_swebench(out: Path, task_filter: str = "all", exclude_contaminated: bool = False,
                    runtime: Runtime | None = None, keep: Callable[[db.Task], bool] | None = None) -> ExportResult:
    """Write the tasks matching ``task_filter`` (as ``forager run --tasks``) to ``out``
    (``.jsonl`` or ``.parquet``); with ``exclude_contaminated`` the tasks of repositories in public
    evaluation sets are left out; ``keep`` (when given) must accept each task too."""
    if out.suffix not in (".jsonl", ".parquet"):
        raise InvalidInput(f"write {out.name!r} as .jsonl or .parquet")
    result = ExportResult(str(out))
    by_image: dict[str, tuple[db.Image, list[db.Task]]] = {}
    for task, image in tasks_with_images(select_tasks(task_filter)):
        if keep is not None and not keep(task):
            continue
        if exclude_contaminated and evaluation_sets(image.source):
            result.excluded.append(task.id)
            continue
        by_image.setdefault(image.id, (image, []))[1].append(task)
    rows: list[SwebenchRow] = []
    if by_image:
        rt = runtime or get_runtime()
        for image, tasks in by_image.values():
            rows += _rows_of_image(rt, image, tasks, result)
    write_rows(rows, out)
    return result
