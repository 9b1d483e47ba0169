"""The states and kinds Forager stores and serves. ``StrEnum``: each member *is* its string, so rows,
JSON and the API keep the same values, and a schema lists the allowed ones."""

from __future__ import annotations

from enum import StrEnum


class BuildStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    VALIDATED = "validated"
    FAILED = "failed"
    DRIFTED = "drifted"
    """A validated image whose re-validation no longer holds (``forager images revalidate``)."""


class TaskKind(StrEnum):
    MUTATE_FIX = "mutate-fix"
    IMPLEMENT_FEATURE = "implement-feature"
    FROM_HISTORY = "from-history"
    COMBINED = "combined"
    MODEL_REWRITE = "model-rewrite"


class TaskStatus(StrEnum):
    VALIDATED = "validated"
    DRIFTED = "drifted"
    """The task's image no longer re-validates."""


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
    TRACES = "traces"


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
    SESSION = "session"


class TaskOrigin(StrEnum):
    """Where a task came from (``meta.origin``; generated tasks carry none)."""

    GENERATED = "generated"
    IMPORTED = "imported"
    """Imported from a SWE-bench-format file (``forager tasks import``)."""


class SessionState(StrEnum):
    """A session over the API (``forager.sessions``): ``active`` until it is submitted (reward
    judged), ended by its client, expired (idle past the timeout) or failed (its container died)."""

    ACTIVE = "active"
    SUBMITTED = "submitted"
    ENDED = "ended"
    EXPIRED = "expired"
    FAILED = "failed"


class TraceStatus(StrEnum):
    """How an execution trace ended (``forager.traces``)."""

    COMPLETE = "complete"
    """The traced call returned (or raised) and every frame is kept."""
    TRUNCATED = "truncated"
    """The frame bound was reached; the frames up to it are kept."""
    INCOMPLETE = "incomplete"
    """The test ended while the call was still open (a generator never resumed)."""


class TraceKind(StrEnum):
    TARGET = "target"
    """A function the plan picked, called by one of its tests."""
    CALLEE = "callee"
    """A function of the repository called from a traced frame (``FORAGER_TRACE_CALLEES=trace``)."""


class CampaignState(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    DONE = "done"


class CampaignStage(StrEnum):
    """The stages of a campaign, in data-path order (one item row per unit of work)."""

    BUILD = "build"  # one source version -> a validated image
    TASKS = "tasks"  # one image and task kind -> tasks
    EPISODE = "episode"  # one task and episode number -> a trajectory
    TRACES = "traces"  # one validated image -> execution traces (``traces_per_image``)


class ItemState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FailureCause(StrEnum):
    """Why a build failed (``forager.build.failure``). The ``infra-*`` causes are the machine's, not
    the repository's: retried with backoff and never counted against the repository."""

    NO_TESTS = "no-tests"
    INSTALL_FAILED = "install-failed"
    COLLECTION_FAILED = "collection-failed"
    BELOW_THRESHOLD = "below-threshold"
    TIMEOUT = "timeout"
    UNSUPPORTED_PYTHON = "unsupported-python"
    RESOURCE_LIMIT = "resource-limit"
    SOURCE = "source"
    INFRA_ENGINE = "infra-engine"
    INFRA_DISK = "infra-disk"
    INFRA_NETWORK = "infra-network"
    CANCELLED = "cancelled"
    OTHER = "other"
    NO_TASKS = "no-tasks"  # a tasks item: no candidate became a validated task
    EPISODE_ERROR = "episode-error"  # an episode item: the episode could not run to an end
    NO_TRACES = "no-traces"  # a traces item: no trace could be collected from the image

    @property
    def infrastructure(self) -> bool:
        return self.value.startswith("infra-")
