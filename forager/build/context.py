"""What every step of one build shares: its id, source, recipe, log and settings."""

from __future__ import annotations

from dataclasses import dataclass

from forager.build.diskwatch import DiskWatch
from forager.build.owners import labels
from forager.build.recipe import Recipe
from forager.build.sources.base import Source
from forager.build.steplog import StepLog
from forager.config import Settings
from forager.runtime import Limits, Sandbox


@dataclass
class BuildContext:
    build_id: str
    src: Source
    recipe: Recipe
    log: StepLog
    settings: Settings

    def labels(self, role: str) -> dict[str, str]:
        return labels(self.build_id, role)

    def container_name(self, part: str) -> str:
        """Build containers are named after the build, so a retried build can remove them."""
        return f"forager-{self.build_id}-{part}"

    def limits(self, network: bool) -> Limits:
        return Limits.from_settings(network=network, settings=self.settings)

    def watch(self, box: Sandbox) -> DiskWatch:
        return DiskWatch(box, self.settings.build_disk_limit_mb)
