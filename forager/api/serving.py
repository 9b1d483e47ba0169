"""How stored trajectories are answered: the one canonical JSON form, and the export's lines."""

from __future__ import annotations

import json

from forager.trajectory.schema import Trajectory
from forager.trajectory.store import load_stored


def canonical_json(traj: Trajectory) -> bytes:
    """The one JSON form the API answers: every field present, keys sorted, compact, UTF-8.
    A stored record holding text that UTF-8 cannot encode (lone surrogates, from before uploads
    refused them) is answered with ASCII escapes instead: still valid JSON, never an error."""
    data = traj.model_dump(mode="json")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def export_line(traj_id: str) -> bytes:
    """One line of the export: the trajectory, or ``{"id", "export_error"}`` when its stored record
    cannot be read or encoded (reported, never a silent stop); empty if it was deleted meanwhile."""
    try:
        loaded = load_stored(traj_id)
        return canonical_json(loaded.trajectory) + b"\n"
    except LookupError:
        return b""
    except Exception as exc:  # noqa: BLE001 - one bad record must not end the export
        error = f"{type(exc).__name__}: {exc}"[:500]
        return json.dumps({"id": traj_id, "export_error": error}, sort_keys=True).encode() + b"\n"
