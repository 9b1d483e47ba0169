"""Campaign specs, quotas, sources files and version expansion (no engine, no network)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from forager.build.sources.base import SourceError
from forager.campaign.plan import check_spec
from forager.campaign.spec import parse_quotas, read_sources
from forager.campaign.versions import expand, git_versions, pinned_ref, spread
from forager.errors import InvalidInput


def test_quotas_and_spec() -> None:
    assert parse_quotas("mutate-fix=50,implement-feature=20, from-history=10") == {
        "mutate-fix": 50, "implement-feature": 20, "from-history": 10}
    with pytest.raises(InvalidInput):
        parse_quotas("mutate-fix=lots")
    with pytest.raises(InvalidInput, match="unknown task kind"):
        check_spec({"sources": ["pypi:toolz"], "tasks": {"rewrite-everything": 1}})
    with pytest.raises(InvalidInput, match="agent"):
        check_spec({"sources": ["pypi:toolz"], "agent": "rm -rf"})
    with pytest.raises(InvalidInput, match="sources"):
        check_spec({"sources": []})
    spec = check_spec({"sources": ["pypi:toolz", " pypi:toolz ", "pypi:six"]})
    assert spec.sources == ["pypi:toolz", "pypi:six"]


def test_sources_file(tmp_path: Path) -> None:
    f = tmp_path / "sources.txt"
    f.write_text("# farm\npypi:toolz  # latest\n\nhttps://github.com/pytoolz/toolz\n")
    assert read_sources(f) == ["pypi:toolz", "https://github.com/pytoolz/toolz"]
    with pytest.raises(InvalidInput):
        read_sources(tmp_path / "missing.txt")


def test_spread_keeps_newest() -> None:
    items = [str(i) for i in range(10)]
    assert spread(items, 3) == ["0", "3", "6"]
    assert spread(items[:2], 3) == ["0", "1"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}).stdout.strip()


def _commit(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", f"change {name}")
    return _git(repo, "rev-parse", "HEAD")


def test_git_versions_tags_first_else_code_commits(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    shas = [_commit(repo, "m.py", f"x = {i}\n") for i in range(4)]
    _commit(repo, "README", "docs only\n")
    got = git_versions(repo, "HEAD", 2)
    assert [s for s, _ in got] == [shas[3], shas[1]]  # code commits, spread, newest first; docs skipped
    _git(repo, "tag", "v1.0", shas[0])
    _git(repo, "tag", "v2.0", shas[2])
    tags = git_versions(repo, "HEAD", 3)
    assert {label for _, label in tags} == {"v1.0", "v2.0"}
    versions = expand(str(repo), 2)
    assert {v.label for v in versions} == {"v1.0", "v2.0"} and all(v.commit for v in versions)


def test_pinned_git_ref_is_exactly_that_commit(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    shas = [_commit(repo, "m.py", f"x = {i}\n") for i in range(3)]
    _git(repo, "tag", "v1.0", shas[0])
    [old] = expand(f"{repo}@v1.0", 3)
    [head] = expand(f"{repo}@HEAD", 3)
    assert (old.commit, old.label) == (shas[0], "v1.0") and head.commit == shas[2]
    with pytest.raises(SourceError, match="no commit"):
        expand(f"{repo}@no-such-tag", 1)
    assert pinned_ref("git@github.com:o/r.git") is None and pinned_ref(f"{repo}") is None


def test_pinned_pypi_is_one_version() -> None:
    [v] = expand("pypi:toolz==1.0.0", 3)
    assert (v.spec, v.commit, v.key) == ("pypi:toolz==1.0.0", None, "pypi:toolz==1.0.0@1.0.0")


def test_source_unreachable_at_create_is_expanded_again(tmp_path: Path) -> None:
    """A git server that is down at ``create`` (the machine's fault) is tried again by ``run``:
    the placeholder item becomes the source's versions once the server answers."""
    import functools
    import http.server
    import socket
    import threading

    from forager.campaign.plan import create, retry_unexpanded
    from forager.store import campaigns as rows

    work = tmp_path / "w"
    work.mkdir()
    _git(work, "init", "-q")
    _commit(work, "m.py", "x = 1\n")
    _git(work, "tag", "v1")
    bare = tmp_path / "srv" / "repo.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    _git(bare, "update-server-info")  # served as plain files ("dumb" HTTP)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/repo.git"

    camp = create("flaky-net", {"sources": [url]})
    [placeholder] = rows.items(camp.id)
    assert (placeholder.key, placeholder.state, placeholder.cause) == (f"{url}@?", "failed", "infra-network")

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "srv"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert retry_unexpanded(camp.id, check_spec(camp.spec)) == 1
    finally:
        server.shutdown()
    [version] = rows.items(camp.id)
    assert (version.state, version.params["label"]) == ("pending", "v1")
