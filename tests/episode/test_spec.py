"""The task as an episode sees it: from a row, a dict or an id; the image fills what the task leaves out."""

from __future__ import annotations

from typing import Any

import pytest
from local_minipkg import IMAGE, TEST_COMMAND, local_task  # noqa: F401 - fixture

from forager.episode.spec import TaskSpec, task_spec
from forager.errors import NotFound


def test_unknown_task_is_not_found() -> None:
    with pytest.raises(NotFound, match="no task 'task-nope'"):
        task_spec("task-nope")
    with pytest.raises(LookupError):
        task_spec("task-nope")


def test_spec_from_id_dict_and_spec(local_task: Any) -> None:  # noqa: F811
    spec = task_spec(local_task.id)
    assert spec.image == IMAGE and spec.test_command == TEST_COMMAND
    assert spec.repository == "local:minipkg" and spec.image_digest == "local:digest"
    assert spec.env["PYTHONPATH"] == "src" and spec.fail_to_pass and spec.setup_patch
    assert task_spec(spec) is spec
    own = task_spec({"id": "t", "image": IMAGE, "test_command": "pytest -x", "env": {"A": "1"}})
    assert isinstance(own, TaskSpec) and own.test_command == "pytest -x" and own.env == {"A": "1"}
    assert own.repository == "local:minipkg"
    bare = task_spec({"id": "t2"})
    assert bare.image == "" and bare.test_command == "" and bare.env == {}
