"""Many episodes at once, over a task filter."""

from __future__ import annotations

from typing import Any

import pytest


def test_run_many_with_concurrency_limit(task: Any) -> None:
    from forager.episode.batch import run_many
    from forager.store.tasks_query import select_tasks

    assert select_tasks("kind=mutate-fix,repo=minipkg") == [task.id]
    assert select_tasks("kind=implement-feature") == []
    with pytest.raises(ValueError, match="bad task filter"):
        select_tasks("colour=blue")
    seen: list[str] = []
    results = run_many([task.id, task.id, "task-missing"], concurrency=2, agent="oracle",
                       progress=lambda s: seen.append(s.task_id))
    assert [r.resolved for r in results] == [True, True, False]
    assert results[0].trajectory_id != results[1].trajectory_id
    assert results[2].error and not results[2].complete
    assert sorted(seen) == sorted([task.id] * 2 + ["task-missing"])

