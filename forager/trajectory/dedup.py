"""Near-duplicate trajectories, per repository: MinHash (128 permutations) over word 3-gram
shingles of the concatenated actions. Trajectories are taken best first (resolved, then fewer
steps, then id) and one is kept only if its estimated Jaccard similarity with every trajectory
already kept for that repository is below the threshold (0.5 by default).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import numpy as np
from datasketch import MinHash

from forager.trajectory.schema import Trajectory

NUM_PERM = 128
SHINGLE = 3
THRESHOLD = 0.5
_WORDS = re.compile(r"\w+|[^\w\s]")


def actions_text(traj: Trajectory) -> str:
    """The concatenated actions: what near-duplicate detection compares."""
    parts = []
    for turn in traj.turns:
        if turn.action is not None:
            parts.append(f"{turn.action.tool} {json.dumps(turn.action.args, sort_keys=True)}")
        else:
            parts.append(turn.model_message)
    return "\n".join(parts)


def minhash(text: str) -> MinHash:
    words = _WORDS.findall(text.lower())
    grams = {" ".join(words[i:i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    m = MinHash(num_perm=NUM_PERM, seed=1)
    m.update_batch([g.encode() for g in grams if g] or [b""])
    return m


def dedup(trajs: list[Trajectory], threshold: float = THRESHOLD) -> tuple[list[Trajectory], dict[str, str]]:
    """Drop near-duplicates per repository; returns the kept trajectories and dropped id -> kept id."""
    groups: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajs:
        groups[t.repository or ""].append(t)
    kept: list[Trajectory] = []
    dropped: dict[str, str] = {}
    for repo in sorted(groups):
        ordered = sorted(groups[repo], key=lambda t: (not t.resolved, len(t.turns), t.id or ""))
        signatures = np.empty((0, NUM_PERM), dtype=np.uint64)
        kept_ids: list[str] = []
        for t in ordered:
            sig = minhash(actions_text(t)).hashvalues.astype(np.uint64)
            if len(kept_ids):
                similarity = (signatures == sig).mean(axis=1)
                best = int(similarity.argmax())
                if similarity[best] >= threshold:
                    dropped[t.id or ""] = kept_ids[best]
                    continue
            signatures = np.vstack([signatures, sig])
            kept_ids.append(t.id or "")
            kept.append(t)
    return kept, dropped
