"""The registry's stable façade: ``from forager.store import db`` then ``db.session()``,
``db.Build``, ``db.new_id`` ... The models live in ``store/models.py``, connections in
``store/session.py``; this module only re-exports them."""

from __future__ import annotations

from forager.store.models import (
    AgentSession,
    ApiToken,
    Base,
    Build,
    BuildLog,
    Campaign,
    CampaignItem,
    ExecTrace,
    Farm,
    Image,
    ImagePush,
    Job,
    Repository,
    SessionTurn,
    Task,
    TestResult,
    Trajectory,
    new_id,
)
from forager.store.session import (
    MIGRATIONS,
    engine,
    engine_for,
    farm_id,
    reset_engines,
    session,
    upgrade,
)

__all__ = [
    "MIGRATIONS", "ApiToken", "Base", "Build", "BuildLog", "Farm", "Image", "Job", "Repository", "Task",
    "TestResult", "Trajectory", "engine", "engine_for", "farm_id", "new_id", "reset_engines", "session",
    "upgrade",
    "AgentSession", "SessionTurn",
    "Campaign", "CampaignItem", "ImagePush",
]
__all__ += ["ExecTrace"]
