"""Training-ready exports of stored trajectories: chat-format JSONL and Parquet.

Each record is one trajectory as an OpenAI-style chat: the system prompt, the task as the user
turn, then for every step an *agent* turn (``assistant``, with a ``tool_calls`` entry for the
action) and an *environment* turn (``tool``, the observation with its exit code). Trajectories of
text-mode models are kept as they were seen: the action inside the assistant text, the observation
as a ``user`` turn.

* Filters: ``resolved_only``, ``kind``, ``repository`` (substring). Unresolved trajectories are
  kept and flagged (``"resolved": false``, ``"outcome": "unresolved"``); incomplete ones (crashed
  episodes) are left out unless asked for.
* Near-duplicates are removed per repository: MinHash (128 permutations) over word 3-gram
  shingles of the concatenated actions; trajectories are taken best first (resolved, then fewer
  steps, then id) and one is kept only if its estimated Jaccard similarity with every trajectory
  already kept for that repository is below the threshold (0.5).
* Stable ids: ``rec-`` + the first 16 hex digits of sha256(trajectory id).
* ``num_tokens``: ``forager.model.messages_tokens``, a documented approximation (no tokenizer
  download): see ``forager.model.approx_tokens``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasketch import MinHash

from forager.model.client import messages_tokens
from forager.trajectory.schema import Trajectory, Turn

FORMATS = ("chat-jsonl", "parquet")
NUM_PERM = 128
SHINGLE = 3
_WORDS = re.compile(r"\w+|[^\w\s]")


def record_id(trajectory_id: str) -> str:
    return "rec-" + hashlib.sha256(trajectory_id.encode()).hexdigest()[:16]


def observation_text(turn: Turn) -> str:
    status = "none" if turn.exit_code is None else str(turn.exit_code)
    return f"{turn.observation.rstrip()}\n[exit code: {status}]"


def chat_messages(traj: Trajectory) -> list[dict[str, Any]]:
    """The trajectory as chat messages (agent turns and environment turns)."""
    text_mode = traj.model.sampling.get("tool_mode") == "text"
    messages: list[dict[str, Any]] = []
    if traj.system_prompt:
        messages.append({"role": "system", "content": traj.system_prompt})
    messages.append({"role": "user", "content": traj.problem_statement})
    for turn in traj.turns:
        if turn.action is None or text_mode:
            messages.append({"role": "assistant", "content": turn.model_message})
            prefix = "OBSERVATION:\n" if turn.action is not None else ""
            messages.append({"role": "user", "content": prefix + observation_text(turn)})
            continue
        call_id = turn.action.call_id or f"call-{turn.index}"
        messages.append({"role": "assistant", "content": turn.model_message or None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": turn.action.tool,
                          "arguments": json.dumps(turn.action.args, sort_keys=True)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": observation_text(turn)})
    return messages


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


def to_record(traj: Trajectory) -> dict[str, Any]:
    messages = chat_messages(traj)
    resolved = traj.resolved
    return {
        "id": record_id(traj.id or ""),
        "trajectory_id": traj.id,
        "task_id": traj.task_id,
        "repository": traj.repository,
        "kind": traj.kind,
        "image": traj.image,
        "agent": traj.agent,
        "model": traj.model.name,
        "resolved": resolved,
        "outcome": "resolved" if resolved else "unresolved",
        "complete": traj.complete,
        "exit_reason": traj.exit_reason,
        "steps": len(traj.turns),
        "num_tokens": messages_tokens(messages),
        "messages": messages,
        "final_diff": traj.final_diff,
        "reward": traj.reward.model_dump(mode="json") if traj.reward else None,
    }


@dataclass
class ExportStats:
    selected: int = 0
    unreadable: int = 0
    duplicates: int = 0
    written: int = 0
    resolved: int = 0
    unresolved: int = 0
    tokens: int = 0
    duplicate_of: dict[str, str] = field(default_factory=dict)
    """dropped trajectory id -> the kept trajectory it nearly duplicates"""
    problems: dict[str, str] = field(default_factory=dict)
    """left-out trajectory id -> why it could not be exported (reported, never skipped silently)"""

    def summary(self) -> dict[str, Any]:
        return {"selected": self.selected, "unreadable": self.unreadable, "duplicates": self.duplicates,
                "written": self.written, "resolved": self.resolved, "unresolved": self.unresolved,
                "tokens": self.tokens, "unreadable_ids": sorted(self.problems)}


def select(resolved_only: bool = False, kind: str | None = None, repository: str | None = None,
           include_incomplete: bool = False) -> Iterator[tuple[str, Trajectory | str]]:
    """Stored trajectories matching the filters, as (id, trajectory, or why it cannot be exported)."""
    from sqlalchemy import select as sql_select

    from forager.store import db
    from forager.trajectory.schema import read

    with db.session() as s:
        q = sql_select(db.Trajectory.id, db.Trajectory.path).order_by(db.Trajectory.id)
        if resolved_only:
            q = q.where(db.Trajectory.resolved.is_(True))
        if not include_incomplete:
            q = q.where(db.Trajectory.complete.is_(True))
        if kind:
            q = q.where(db.Trajectory.kind == kind)
        if repository:
            q = q.where(db.Trajectory.repository.contains(repository))
        rows = list(s.execute(q))
    for traj_id, path in rows:
        try:
            loaded = read(Path(path))
        except Exception as exc:  # noqa: BLE001 - one bad record is reported, the export goes on
            yield traj_id, f"cannot be read: {type(exc).__name__}: {exc}"
            continue
        if loaded.error and not include_incomplete:
            yield traj_id, f"damaged: {loaded.error}"
            continue
        yield traj_id, loaded.trajectory


def _problem(traj: Trajectory) -> str | None:
    """Why a readable trajectory still cannot be written (text UTF-8 cannot encode), or None."""
    try:
        traj.model_dump_json()
    except ValueError as exc:
        return f"cannot be encoded: {exc}"
    return None


def dedup(trajs: list[Trajectory], threshold: float = 0.5) -> tuple[list[Trajectory], dict[str, str]]:
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


def _atomic_path(out: Path) -> tuple[int, str]:
    out.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")


def write_jsonl(records: list[dict[str, Any]], out: Path) -> None:
    fd, tmp = _atomic_path(out)
    try:
        with os.fdopen(fd, "w") as fh:
            for r in records:
                fh.write(json.dumps(r, sort_keys=True, default=str) + "\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PARQUET_JSON_COLUMNS = ("messages", "reward")


def write_parquet(records: list[dict[str, Any]], out: Path) -> None:
    """One row per record; ``messages`` and ``reward`` are JSON strings (tool calls vary in shape)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("id", pa.string()), ("trajectory_id", pa.string()), ("task_id", pa.string()),
        ("repository", pa.string()), ("kind", pa.string()), ("image", pa.string()),
        ("agent", pa.string()), ("model", pa.string()), ("resolved", pa.bool_()),
        ("outcome", pa.string()), ("complete", pa.bool_()), ("exit_reason", pa.string()),
        ("steps", pa.int32()), ("num_tokens", pa.int64()), ("messages", pa.string()),
        ("final_diff", pa.string()), ("reward", pa.string()),
    ])
    rows = [{k: (json.dumps(r[k], sort_keys=True) if k in PARQUET_JSON_COLUMNS and r[k] is not None else r[k])
             for k in schema.names} for r in records]
    table = pa.Table.from_pylist(rows, schema=schema)
    fd, tmp = _atomic_path(out)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export(out: Path, fmt: str = "chat-jsonl", *, resolved_only: bool = False, kind: str | None = None,
           repository: str | None = None, include_incomplete: bool = False, threshold: float = 0.5
           ) -> ExportStats:
    """Write the selected, de-duplicated trajectories to ``out``; returns what was done."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    stats = ExportStats()
    trajs: list[Trajectory] = []
    for traj_id, traj in select(resolved_only, kind, repository, include_incomplete):
        stats.selected += 1
        problem = traj if isinstance(traj, str) else _problem(traj)
        if problem is not None:
            stats.unreadable += 1
            stats.problems[traj_id] = problem
        else:
            trajs.append(traj)
    kept, stats.duplicate_of = dedup(trajs, threshold)
    stats.duplicates = len(stats.duplicate_of)
    records = sorted((to_record(t) for t in kept), key=lambda r: r["id"])
    for r in records:
        stats.resolved += r["resolved"]
        stats.unresolved += not r["resolved"]
        stats.tokens += r["num_tokens"]
    (write_parquet if fmt == "parquet" else write_jsonl)(records, Path(out))
    stats.written = len(records)
    return stats
