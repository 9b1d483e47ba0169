"""What a campaign makes: its sources, how many versions of each, task quotas per image, episodes
per task and the agent that runs them. Stored as the campaign row's ``spec``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from forager.enums import TaskKind
from forager.errors import InvalidInput

MAX_SOURCES = 100_000
DEFAULT_TASKS = {TaskKind.MUTATE_FIX.value: 5}


class CampaignSpec(BaseModel):
    sources: list[str] = Field(min_length=1, max_length=MAX_SOURCES)
    versions_per_source: int = Field(default=1, ge=1, le=50)
    tasks: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_TASKS))
    """Tasks of each kind to make per validated image (0 leaves the kind out)."""
    episodes_per_task: int = Field(default=1, ge=0, le=100)
    agent: str = Field(default="oracle", pattern=r"^(oracle|llm)$")
    model_url: str | None = Field(default=None, max_length=500)
    model_name: str | None = Field(default=None, max_length=200)
    max_steps: int | None = Field(default=None, gt=0, le=10_000)
    traces_per_image: int = Field(default=0, ge=0, le=1000)
    """Functions traced per validated image (the traces stage; 0 leaves it out)."""

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        out = [s.strip() for s in value if s.strip()]
        for s in out:
            if len(s) > 400 or any(c in s for c in "\n\r\x00"):
                raise ValueError(f"not a source: {s[:80]!r}")
        if not out:
            raise ValueError("no sources")
        return list(dict.fromkeys(out))

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, n in value.items():
            if kind not in list(TaskKind):
                raise ValueError(f"unknown task kind {kind!r}; kinds are {', '.join(TaskKind)}")
            if not 0 <= n <= 1000:
                raise ValueError(f"{kind}={n}: between 0 and 1000 tasks per image")
        return value


def parse_quotas(text: str) -> dict[str, int]:
    """``mutate-fix=50,implement-feature=20`` as ``{kind: n}``; InvalidInput when malformed."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, n = part.partition("=")
        if not n.strip().isdigit():
            raise InvalidInput(f"{part!r} is not KIND=N")
        out[kind.strip()] = int(n)
    return out


def read_sources(path: Path) -> list[str]:
    """One source a line; blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read sources file {path}: {exc}") from None
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]
