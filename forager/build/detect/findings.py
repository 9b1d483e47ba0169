"""What detection has found so far: requirements (each with a note saying where from),
requirement files and extras. The pipeline turns it into a ``Recipe`` at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from forager.build.detect.project_files import split_reqs
from forager.build.detect.requirements import clean_requirement


@dataclass
class Findings:
    python: str
    declared: dict[str, list[str]] = field(default_factory=dict)
    """Every extra the project declares, with its requirements."""
    deps: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, reqs: list[str], where: str) -> None:
        """Keep the usable requirements of ``reqs`` (see ``clean_requirement``), noting where from."""
        kept = [c for x in reqs if (c := clean_requirement(x, self.python))]
        if kept:
            self.deps.extend(kept)
            self.notes.append(f"{len(kept)} requirement(s) from {where}")

    def add_file(self, rel: str) -> None:
        if rel not in self.files:
            self.files.append(rel)

    def add_extra(self, name: str, where: str | None = None) -> None:
        """Install the project with extra ``name`` when it declares it; with ``where``, its
        requirements go into the dependency layer too."""
        if name in self.declared and name not in self.extras:
            self.extras.append(name)
            if where is not None:
                self.add(split_reqs(self.declared[name]), where)
