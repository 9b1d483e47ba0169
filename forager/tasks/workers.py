"""The containers a generation works in: how many, started side by side on threads, each with a
runner whose serving session may start collecting at once, all removed when the generation ends."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

from forager.config import Settings
from forager.enums import TaskKind
from forager.store import db
from forager.tasks.fastrun import Runner
from forager.tasks.result import GenerateResult
from forager.tasks.workspace import Progress, Workspace, WorkspaceConfig


def task_workers(s: Settings, kind: TaskKind) -> int:
    """Containers a generation judges in side by side: ``FORAGER_TASK_WORKERS``, or one per core (at
    most 4); from-history prepares one past commit at a time in one container."""
    if kind == TaskKind.FROM_HISTORY:
        return 1
    return s.task_workers or max(1, min(4, os.cpu_count() or 1))


def start_workspaces(result: GenerateResult, img: db.Image, log: Progress, s: Settings,
                     cleanup: ExitStack, n: int, runners: dict[int, Runner],
                     serve: list[str]) -> list[Future[Workspace]]:
    """``n`` workspace containers of the image, started on threads while the caller goes on (the
    kept call map, the candidates of the first batch), each with a runner whose session starts
    collecting the ``serve`` test files at once (none: no serving session); removed when
    ``cleanup`` closes, started or not."""
    test_paths = list((img.recipe or {}).get("test_paths") or [])

    def start() -> Workspace:
        with result.timed("container"):
            ws = Workspace(img.id, img.test_command, log, (img.recipe or {}).get("env") or {},
                           WorkspaceConfig.from_settings(s))
        runner = runners[id(ws)] = Runner(ws, test_paths)
        if serve:
            with result.timed("session start"):
                runner.open_session(serve)
        return ws

    pool = ThreadPoolExecutor(n, thread_name_prefix="forager-workspace")
    starting = [pool.submit(start) for _ in range(n)]

    def remove() -> None:
        pool.shutdown(wait=True)
        with result.timed("remove"):
            for f in starting:
                if f.exception() is None:
                    ws = f.result()
                    if id(ws) in runners:
                        runners[id(ws)].close()
                    ws.remove()

    cleanup.callback(remove)
    return starting
