"""The states and kinds Forager stores and serves. ``StrEnum``: each member *is* its string, so rows,
JSON and the API keep the same values, and a schema lists the allowed ones."""

from __future__ import annotations

from enum import StrEnum


class BuildStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    VALIDATED = "validated"
    FAILED = "failed"


class TaskKind(StrEnum):
    MUTATE_FIX = "mutate-fix"
    IMPLEMENT_FEATURE = "implement-feature"
    FROM_HISTORY = "from-history"
    COMBINED = "combined"
    MODEL_REWRITE = "model-rewrite"


class TaskStatus(StrEnum):
    VALIDATED = "validated"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobKind(StrEnum):
    BUILD = "build"
    TASKS = "tasks"
    RUN = "run"
    NOOP = "noop"


class Queue(StrEnum):
    BUILD = "build"
    TASKS = "tasks"
    AGENT = "agent"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, need: Scope) -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(need)


class Origin(StrEnum):
    LOCAL = "local"
    UPLOAD = "upload"
