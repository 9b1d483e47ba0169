"""Near-duplicate traces removed per repository."""

from __future__ import annotations

from forager.traces.dedup import DedupItem, dedup
from forager.traces.frames import Frame


def item(tid: str, repo: str, values: list[int], complete: bool = True, fp: str | None = None) -> DedupItem:
    frames = [Frame(event="call", line=1, locals={"xs": str(values)})]
    frames += [Frame(event="line", line=2 + i % 3, locals={"i": str(i), "acc": str(sum(values[:i]))})
               for i in range(len(values))]
    frames.append(Frame(event="return", line=9, arg=str(sum(values))))
    return DedupItem(tid, repo, "total", complete, fp or tid, frames)


def test_near_duplicates_are_dropped_within_a_repository_only() -> None:
    base = list(range(40))
    near = base[:-1] + [1000]  # the same call but for the last value
    other = [7 * v + 3 for v in range(25)]
    kept, dropped = dedup([item("a", "r1", base), item("b", "r1", near), item("c", "r1", other),
                           item("d", "r2", base)])
    assert sorted(k.id for k in kept) == ["a", "c", "d"]
    assert dropped == {"b": "a"}


def test_identical_fingerprints_are_duplicates_and_complete_traces_win() -> None:
    kept, dropped = dedup([item("x", "r", [1, 2], complete=False, fp="same"),
                           item("y", "r", [5, 6, 7, 8], fp="same")])
    assert [k.id for k in kept] == ["y"] and dropped == {"x": "y"}


def test_a_threshold_of_one_keeps_all_but_exact_duplicates() -> None:
    base = list(range(40))
    kept, _ = dedup([item("a", "r", base), item("b", "r", base[:-1] + [1000])], threshold=1.0)
    assert len(kept) == 2
