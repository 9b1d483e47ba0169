"""Trajectories: exact round trips of uploads, the file formats, list filters and export, ids that
are never paths, bad stored records."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from api_client import (
    JSON,
    Api,
    make_traj,
    n_trajectories,
    traj,
)

from forager.api.serving import canonical_json
from forager.trajectory import fileformat
from forager.trajectory import store as trajstore
from forager.trajectory.export import export
from forager.trajectory.schema import Trajectory


def test_upload_json_roundtrips_byte_for_byte(api: Api) -> None:
    traj = make_traj()
    r = api.client.post(
        "/v1/trajectories",
        content=traj.model_dump_json(),
        headers={**api.write, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    first = api.client.get(f"/v1/trajectories/{r.json()['id']}", headers=api.read)
    assert first.status_code == 200
    body = first.json()
    assert (
        body["id"] == r.json()["id"]
        and len(body["turns"]) == 2
        and body["turns"][0]["model_message"].endswith("✓")
    )
    # Uploading what GET answered (id null) stores it exactly: GET answers the same bytes.
    body["id"] = None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    r2 = api.client.post(
        "/v1/trajectories", content=canonical, headers={**api.write, "Content-Type": "application/json"}
    )
    assert r2.status_code == 201
    second = api.client.get(f"/v1/trajectories/{r2.json()['id']}", headers=api.read).content
    assert second == canonical.replace(b'"id":null', f'"id":"{r2.json()["id"]}"'.encode())
    # the raw download is the stored file, whose hash the index records
    raw = api.client.get(f"/v1/trajectories/{r2.json()['id']}/raw", headers=api.read)
    assert raw.headers["x-forager-sha256"] == r2.json()["sha256"]

    assert hashlib.sha256(raw.content).hexdigest() == r2.json()["sha256"]
    assert (
        fileformat.loads_lenient(raw.content).trajectory.model_dump()
        == Trajectory.model_validate_json(second).model_dump()
    )


def test_upload_jsonl_and_gzip_file_formats(api: Api) -> None:
    traj = make_traj(3, resolved=False)
    gz = fileformat.dumps(traj)
    r = api.client.post(
        "/v1/trajectories", content=gz, headers={**api.write, "Content-Type": "application/gzip"}
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    traj.id = new_id
    # the stored file is the canonical .jsonl.gz of the uploaded trajectory under its new id
    assert api.client.get(f"/v1/trajectories/{new_id}/raw", headers=api.read).content == fileformat.dumps(traj)
    assert api.client.get(f"/v1/trajectories/{new_id}", headers=api.read).content == canonical_json(traj)
    lines = gzip.decompress(gz)
    r = api.client.post(
        "/v1/trajectories", content=lines, headers={**api.write, "Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 201 and r.json()["steps"] == 3


def test_list_filters_export_and_stats(api: Api) -> None:
    headers = {**api.write, "Content-Type": "application/json"}
    for i in range(4):
        r = api.client.post(
            "/v1/trajectories",
            content=make_traj(1, resolved=i % 2 == 0, task_id=f"t{i % 2}").model_dump_json(),
            headers=headers,
        )
        assert r.status_code == 201
    listed = api.client.get("/v1/trajectories", params={"resolved": "true"}, headers=api.read).json()["items"]
    assert len(listed) == 2 and all(t["resolved"] and t["origin"] == "upload" for t in listed)
    assert (
        len(api.client.get("/v1/trajectories", params={"task_id": "t1"}, headers=api.read).json()["items"])
        == 2
    )
    with api.client.stream(
        "GET", "/v1/trajectories/export", params={"resolved": "false"}, headers=api.read
    ) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        rows = [Trajectory.model_validate_json(line) for line in r.iter_lines() if line]
    assert len(rows) == 2 and not any(t.resolved for t in rows)
    stats = api.client.get("/v1/stats", headers=api.read).json()
    assert stats["trajectories"]["total"] == 4 and stats["trajectories"]["resolve_rate"] == 0.5
    assert api.client.get("/v1/trajectories/traj-missing", headers=api.read).status_code == 404


def test_trajectory_ids_are_never_file_paths(api: Api, forager_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from FORAGER_HOME, `GET /v1/trajectories/forager.db` used to open (and close) the live
    database, dropping its locks; any file in the cwd was answered; a directory gave 500."""
    r = api.client.post("/v1/trajectories", content=traj().model_dump_json(), headers={**api.write, **JSON})
    assert r.status_code == 201
    monkeypatch.chdir(forager_home)
    (forager_home / "secret.txt").write_text('{"problem_statement": "TOP-SECRET-CONTENT"}')
    database = forager_home / "forager.db"
    assert database.is_file() and (forager_home / "trajectories").is_dir()

    other = sqlite3.connect(database, timeout=30)  # a concurrent writer holding a transaction
    other.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
    other.commit()
    other.execute("BEGIN IMMEDIATE")
    other.executemany("INSERT INTO probe VALUES (?)", [(i,) for i in range(100)])
    before = (database.read_bytes(), database.stat().st_mtime_ns)

    refs = ["forager.db", "forager.db-wal", "secret.txt", "trajectories", "..%2Fforager.db", "..%2F..%2Fetc",
            "%2Fetc%2Fpasswd", str(database).replace("/", "%2F"), "traj-..", "traj-a.b"]
    for ref in refs:
        for suffix in ("", "/raw"):
            r = api.client.get(f"/v1/trajectories/{ref}{suffix}", headers=api.read)
            assert r.status_code == 404, (ref, suffix, r.status_code)
            assert b"TOP-SECRET" not in r.content and b"SQLite format" not in r.content
        r = api.client.get(f"/ui/trajectories/{ref}", headers=api.read)
        assert r.status_code == 404 and "TOP-SECRET" not in r.text, ref

    assert (database.read_bytes(), database.stat().st_mtime_ns) == before  # untouched
    other.commit()
    assert other.execute("SELECT count(*) FROM probe").fetchone() == (100,)
    assert other.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    other.close()
    assert n_trajectories() == 1
    with pytest.raises(LookupError):
        trajstore.load_stored("forager.db")
    with pytest.raises(ValueError, match="not a trajectory id"):
        trajstore.save(traj(id="../../escape"))


def test_the_command_line_still_reads_files(tmp_path: Path) -> None:
    path = tmp_path / "episode.jsonl.gz"
    fileformat.write(traj(id="traj-file"), path)
    assert trajstore.load(str(path)).trajectory.id == "traj-file"
    saved = trajstore.save(traj())
    assert trajstore.load(saved).trajectory.id == saved


def _store_raw(t: Trajectory) -> str:
    """Store a record the way an older server could have (no upload validation)."""
    return trajstore.save(t)


def test_bad_stored_records_are_served_and_reported(api: Api, forager_home: Path, tmp_path: Path) -> None:
    bad = traj(problem_statement="lone \ud800 surrogate")
    bad_id = _store_raw(bad)
    good_id = _store_raw(traj())
    broken_id = _store_raw(traj())
    trajstore.stored_path(broken_id).unlink()
    trajstore.stored_path(broken_id).mkdir()  # unreadable: a directory where the file was

    r = api.client.get(f"/v1/trajectories/{bad_id}", headers=api.read)
    assert r.status_code == 200 and json.loads(r.content)["problem_statement"] == "lone \ud800 surrogate"
    assert api.client.get(f"/ui/trajectories/{bad_id}", headers=api.read).status_code == 200
    assert api.client.get(f"/v1/trajectories/{broken_id}", headers=api.read).status_code == 404
    lines = [json.loads(line) for line in
             api.client.get("/v1/trajectories/export", headers=api.read).content.splitlines()]
    assert {x["id"] for x in lines} == {bad_id, good_id, broken_id}
    errors = {x["id"]: x["export_error"] for x in lines if "export_error" in x}
    assert list(errors) == [broken_id]

    stats = export(tmp_path / "out.jsonl")
    assert stats.written == 1 and set(stats.problems) == {bad_id, broken_id}
    assert stats.summary()["unreadable_ids"] == sorted([bad_id, broken_id])
    assert "surrogates" in stats.problems[bad_id]
