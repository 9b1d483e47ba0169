"""Shared by the mutation tests: a small module with a function, a class and imports, and helpers."""

from __future__ import annotations

from forager.tasks.mutations import FAMILIES, mutate_source

SNIPPET = '''\
import math
from os import path


def area(radius, scale=1):
    """Area of a circle."""
    if radius < 0 and scale > 0:
        raise ValueError("negative")
    result = math.pi * radius ** 2
    result = result * scale
    return result


class Box:
    def __init__(self, width, height):
        self.width = width
        self.height = height

    def fits(self, other):
        return not self.width > other.width or self.height <= other.height

    def join(self, sep):
        return path.join(str(self.width), sep)
'''


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    a, b = old.splitlines(), new.splitlines()
    return [x for x in a if x not in b], [x for x in b if x not in a]


def by_family(source: str, **kw: object) -> dict[str, list]:
    out: dict[str, list] = {f: [] for f in FAMILIES}
    for m in mutate_source(source, **kw):  # type: ignore[arg-type]
        out[m.family].append(m)
    return out
