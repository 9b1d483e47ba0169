"""``/v1/tasks``: generate tasks from an image (a job), list and show tasks."""

from __future__ import annotations

from fastapi import APIRouter

from forager.api.deps import Cursor, IdemKey, Limit, Read, Write
from forager.api.schemas import JobOut, Page, TaskDetail, TaskOut, TasksIn
from forager.api.submit import submit
from forager.enums import JobKind
from forager.store import images, tasks

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])


@router.post("", response_model=JobOut, status_code=202,
             description="Generate tasks from a validated image (a job of kind `tasks`).")
def generate_tasks(body: TasksIn, token: Write, idempotency_key: IdemKey = None) -> JobOut:
    images.find(body.image)  # NotFound: 404 before any job is made
    job = submit(JobKind.TASKS, body.model_dump(mode="json"), token, idempotency_key)
    return JobOut.model_validate(job)


@router.get("", response_model=Page[TaskOut])
def list_tasks(_: Read, limit: Limit = 50, cursor: Cursor = None, image: str | None = None,
               kind: str | None = None, family: str | None = None, status: str | None = None) -> Page[TaskOut]:
    rows, nxt = tasks.list_tasks(limit, cursor, image=image, kind=kind, family=family, status=status)
    return Page(items=[TaskOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/{task_id}", response_model=TaskDetail)
def show_task(task_id: str, _: Read) -> TaskDetail:
    return TaskDetail.model_validate(tasks.find(task_id))
