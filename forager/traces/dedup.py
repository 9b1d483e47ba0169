"""Near-duplicate traces, per repository: MinHash (``forager.trajectory.dedup.minhash``: word
3-gram shingles, 128 permutations) over the normalised frames. Traces are taken best first
(complete before truncated or incomplete, then more frames, then id); one is kept only if its
estimated Jaccard similarity with every trace already kept for its repository is below the
threshold. Identical normalised traces (the same fingerprint) are always duplicates."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from forager.traces.frames import Frame
from forager.traces.normalise import normalise_frames
from forager.trajectory.dedup import NUM_PERM, minhash

THRESHOLD = 0.8
"""Two calls of one function on different inputs share most of their lines; what tells them apart
is their values, so traces need a higher similarity than trajectories to count as the same."""


@dataclass
class DedupItem:
    id: str
    repository: str
    function: str
    complete: bool
    fingerprint: str
    frames: list[Frame]


def frames_text(function: str, frames: list[Frame]) -> str:
    """What near-duplicate detection compares: the function, then each frame's event, line and values."""
    parts = [function]
    for f in normalise_frames(frames):
        values = " ".join(f"{k}={v}" for k, v in sorted((f.locals or {}).items()))
        parts.append(f"{f.event} {f.line} {values} {f.arg or ''}")
    return "\n".join(parts)


def dedup(items: list[DedupItem], threshold: float = THRESHOLD) -> tuple[list[DedupItem], dict[str, str]]:
    """The kept items and dropped id -> the kept id it nearly duplicates."""
    groups: dict[str, list[DedupItem]] = defaultdict(list)
    for item in items:
        groups[item.repository].append(item)
    kept: list[DedupItem] = []
    dropped: dict[str, str] = {}
    for repo in sorted(groups):
        ordered = sorted(groups[repo], key=lambda t: (not t.complete, -len(t.frames), t.id))
        signatures = np.empty((0, NUM_PERM), dtype=np.uint64)
        kept_ids: list[str] = []
        by_print: dict[str, str] = {}
        for t in ordered:
            if t.fingerprint in by_print:
                dropped[t.id] = by_print[t.fingerprint]
                continue
            sig = minhash(frames_text(t.function, t.frames)).hashvalues.astype(np.uint64)
            if kept_ids:
                similarity = (signatures == sig).mean(axis=1)
                best = int(similarity.argmax())
                if similarity[best] >= threshold:
                    dropped[t.id] = kept_ids[best]
                    continue
            signatures = np.vstack([signatures, sig])
            kept_ids.append(t.id)
            by_print[t.fingerprint] = t.id
            kept.append(t)
    return kept, dropped
