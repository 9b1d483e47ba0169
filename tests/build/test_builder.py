"""End-to-end builds on a real Docker engine, including bad input."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from docker.types import Mount
from fixture_builds import PYPROJECT
from typer.testing import CliRunner

from forager.build.builder import build
from forager.build.catalogue import passing_tests, show_image
from forager.cli.main import app
from forager.config import reset_settings
from forager.store import db

pytestmark = pytest.mark.docker


def make_repo(root: Path, name: str, tests: str, extra: dict[str, str] | None = None) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("def one():\n    return 1\n")
    (root / "pyproject.toml").write_text(PYPROJECT.format(name=name))
    (root / "tests").mkdir()
    (root / "tests" / "test_basic.py").write_text(
        f"from {name} import one\n\ndef test_one():\n    assert one() == 1\n\n"
        "def test_two():\n    assert one() + one() == 2\n\ndef test_three():\n    assert one() * 3 == 3\n")
    (root / "tests" / "test_extra.py").write_text(tests)
    for rel, text in (extra or {}).items():
        (root / rel).write_text(text)
    return root


def test_minipkg_validates_with_recorded_results(minipkg_build, runtime) -> None:  # type: ignore[no-untyped-def]
    r = minipkg_build
    assert r.status == "validated" and r.tests["passed"] == 12 and r.tests["failed"] == 0
    assert r.tests["flaky"] == 0
    labels = runtime.image_labels(r.image)
    assert labels["forager.kind"] == "repository" and labels["forager.commit"] == r.commit
    assert json.loads(labels["forager.recipe"])["extras"] == ["test"]
    box = runtime.start(r.image)
    try:  # the image holds a clean git checkout at /repo and an editable install
        res = box.exec("cd /repo && git status --porcelain && python -c 'import minipkg; print(minipkg.__file__)'", 60)
        assert res.ok and res.output.strip() == "/repo/src/minipkg/__init__.py"
    finally:
        box.remove()


def test_second_commit_reuses_dependency_layer_and_cli_json(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", "reuse_me", "def test_more():\n    assert True\n")
    first = build(str(repo))
    assert first.status == "validated", first.error
    (repo / "tests" / "test_new.py").write_text("def test_new():\n    assert 2 > 1\n")
    result = CliRunner().invoke(app, ["build", str(repo), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out) >= {"source", "commit", "status", "image", "python", "install", "test_command", "tests",
                        "duration_s", "error"}
    assert out["status"] == "validated" and out["tests"]["passed"] == 5 and out["image"] != first.image
    with db.session() as s:
        logs = s.query(db.BuildLog).filter_by(build_id=out["build_id"], step="dependencies").all()
        assert any("reused" in log.output for log in logs)
    assert len(passing_tests(out["image"])) == 5
    info = show_image(out["image"])
    assert info is not None and info["recipe"]["python"] == "3.11"


def test_missing_test_module_is_repaired(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    optional = ("try:\n    from hypothesis import given, strategies as st\nexcept ImportError:\n    pass\n\n"
                "@given(st.integers())\ndef test_ints(n):\n    assert isinstance(n, int)\n")
    repo = make_repo(tmp_path / "r", "needs_yaml",
                     "import yaml\n\ndef test_yaml():\n    assert yaml.safe_load('a: 1') == {'a': 1}\n",
                     extra={"tests/test_optional.py": optional})
    r = build(str(repo))
    assert r.status == "validated", r.error
    installed = {x["value"] for x in r.install["repairs"] if x["fix"] == "install" and x["ok"]}
    assert {"PyYAML", "hypothesis"} <= installed  # a missing module; an optional import (NameError)
    assert r.tests["passed"] == 5


def test_failing_suite_is_recorded_as_failed(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", "mostly_broken",
                     "\n".join(f"def test_bad_{i}():\n    assert False\n" for i in range(5)))
    r = build(str(repo))
    assert r.status == "failed" and "pass rate" in (r.error or "")
    with db.session() as s:
        row = s.get(db.Build, r.build_id)
        assert row is not None and row.status == "failed" and row.tests["failed"] == 5


@pytest.mark.parametrize("source,needle", [
    ("https://127.0.0.1:9/nobody/nothing.git", "unreachable or not a repository"),
    ("/definitely/not/here", "not a git URL"),
    ("pypi:this-package-does-not-exist-forager-xyz", "no package"),
])
def test_bad_sources_fail_cleanly(source: str, needle: str) -> None:
    r = build(source)
    assert r.status == "failed" and needle in (r.error or "")
    with db.session() as s:
        assert s.get(db.Build, r.build_id).status == "failed"  # type: ignore[union-attr]


def test_repo_without_tests_fails(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "mod.py").write_text("x = 1\n")
    r = build(str(tmp_path / "empty"))
    assert r.status == "failed" and "no tests" in (r.error or "")


def test_broken_setup_fails_with_its_reason(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "setup.py").write_text("raise SystemExit('this setup.py is broken on purpose')\n")
    (broken / "test_x.py").write_text("def test_x():\n    pass\n")
    r = build(str(broken))
    assert r.status == "failed" and "project install failed" in (r.error or "")
    assert "broken on purpose" in (r.error or "")


@pytest.fixture
def tight_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_PER_TEST_TIMEOUT_S", "5")
    monkeypatch.setenv("FORAGER_TEST_TIMEOUT_S", "40")
    monkeypatch.setenv("FORAGER_PIDS_LIMIT", "128")
    monkeypatch.setenv("FORAGER_MEMORY_LIMIT", "256m")
    reset_settings()


def test_hanging_suite_ends(runtime, tmp_path: Path, tight_limits: None) -> None:  # type: ignore[no-untyped-def]
    hang = make_repo(tmp_path / "hang", "hangs",
                     "import signal, time\n\ndef test_hang():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                     "    time.sleep(10_000)\n")
    r = build(str(hang))
    assert r.status == "failed" and "timed out" in (r.error or "")


def test_fork_bombing_suite_ends(runtime, tmp_path: Path, tight_limits: None) -> None:  # type: ignore[no-untyped-def]
    bomb = make_repo(tmp_path / "bomb", "bombs",
                     "import os, time\n\ndef test_bomb():\n    n = 0\n    try:\n        while True:\n"
                     "            if os.fork() == 0:\n                time.sleep(3)\n                os._exit(0)\n"
                     "            n += 1\n    except OSError:\n        pass\n    assert n < 128\n")
    r = build(str(bomb))
    assert r.status == "validated", r.error  # the pids limit stopped the bomb; the suite finished
    assert r.tests["passed"] == 4


def test_memory_hungry_suite_ends(runtime, tmp_path: Path, tight_limits: None) -> None:  # type: ignore[no-untyped-def]
    hog = make_repo(tmp_path / "hog", "hogs",
                    "def test_z_hog():\n    blocks = []\n    while True:\n"
                    "        blocks.append(bytearray(50_000_000))\n")
    r = build(str(hog))
    assert r.status == "failed" and "abnormally" in (r.error or ""), r.error


def test_images_list_and_show_cli(minipkg_build, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FORAGER_HOME", str(minipkg_build.home))
    reset_settings()
    runner = CliRunner()
    listed = runner.invoke(app, ["images", "list", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [minipkg_build.image] and rows[0]["passed"] == 12
    shown = runner.invoke(app, ["images", "show", minipkg_build.image])
    info = json.loads(shown.stdout)
    assert info["test_command"].startswith("python -m pytest") and len(info["results"]) == 12
    assert runner.invoke(app, ["images", "show", "forager/nope:nothing"]).exit_code == 1


def _cache_volume_files(runtime, volume: str) -> set[str]:  # type: ignore[no-untyped-def]
    out = runtime.client.containers.run("forager/base:3.11", ["bash", "-c", "cd /c && find . -type f | sort"],
                                        mounts=[Mount("/c", volume, type="volume")], remove=True,
                                        network_mode="none")
    return set(out.decode().split())


def test_repository_code_cannot_poison_or_wipe_the_shared_pip_cache(runtime, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    volume = f"forager-test-cache-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FORAGER_PIP_CACHE_VOLUME", volume)
    reset_settings()
    runtime.client.volumes.create(volume)
    try:
        runtime.client.containers.run(  # what earlier builds left in the shared cache
            "forager/base:3.11", ["bash", "-c", "mkdir -p /c/http-v2/a && echo wheel > /c/http-v2/a/shared-entry"],
            mounts=[Mount("/c", volume, type="volume")], remove=True, network_mode="none")
        before = _cache_volume_files(runtime, volume)
        assert "./http-v2/a/shared-entry" in before
        setup = ("import os, subprocess\nfrom setuptools import setup\n"
                 "cache = os.path.expanduser('~/.cache/pip')\n"
                 "seen = open('/root/observed.txt', 'a')\n"
                 "print('SAW', sorted(os.listdir(cache)), file=seen)\n"
                 "open(os.path.join(cache, 'poison-marker'), 'w').write('owned')\n"
                 "uv = os.path.join(cache, '.forager-uv', 'uv')\n"  # the uv every build container runs
                 "os.path.exists(uv) and open(uv, 'w').write('poisoned')\n"
                 "subprocess.run('rm -rf ~/.cache/pip/* ~/.cache/pip/.[!.]*', shell=True)\n"
                 "print('LEFT', sorted(os.listdir(cache)), file=seen)\n"
                 "setup(name='poisoner', version='0.1', packages=['poisoner'])\n")
        repo = make_repo(tmp_path / "r", "poisoner", "def test_more():\n    assert True\n",
                         extra={"setup.py": setup})
        (repo / "pyproject.toml").unlink()
        r = build(str(repo))
        assert r.status == "validated", r.error
        with runtime.start(r.image) as box:
            observed = (box.get_file("/root/observed.txt") or b"").decode()
        # the setup.py did run, saw the shared entries, and emptied its own view of the cache
        assert "SAW ['.forager-uv', 'http-v2'" in observed and "LEFT []" in observed, observed
        after = _cache_volume_files(runtime, volume)
        assert before <= after and not any("poison-marker" in f for f in after)
        uv = runtime.client.containers.run("forager/base:3.11", ["/c/.forager-uv/uv", "--version"],
                                           mounts=[Mount("/c", volume, type="volume")], remove=True,
                                           network_mode="none")
        assert uv.decode().startswith("uv ")  # the shared copy is untouched
        assert not runtime.client.volumes.list(filters={"label": f"forager.pip-overlay=forager-{r.build_id}-repo"})
    finally:
        runtime.client.volumes.get(volume).remove(force=True)


def test_build_writing_its_pip_cache_past_the_disk_limit_is_stopped(runtime, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The pip cache overlay of a build container is a volume outside its writable layer: writes
    there escaped the disk limit; they count now."""
    monkeypatch.setenv("FORAGER_BUILD_DISK_LIMIT_MB", "100")
    reset_settings()
    fill = ("import os, time\nfrom setuptools import setup\n"
            "with open(os.path.expanduser('~/.cache/pip/fill.bin'), 'wb') as f:\n"
            "    for _ in range(30):\n        f.write(b'x' * 10_000_000)\n"
            "time.sleep(60)\nsetup()\n")
    repo = make_repo(tmp_path / "r", "cachefiller", "def test_ok():\n    pass\n", {"setup.py": fill})
    r = build(str(repo))
    assert r.status == "failed" and "disk limit" in (r.error or ""), r.error


def test_build_past_the_disk_limit_is_stopped_and_failed(runtime, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_BUILD_DISK_LIMIT_MB", "100")
    reset_settings()
    repo = make_repo(tmp_path / "r", "filler",
                     "import time\n\ndef test_fill():\n    with open('/repo/big.bin', 'wb') as f:\n"
                     "        for _ in range(30):\n            f.write(b'x' * 10_000_000)\n"
                     "    time.sleep(60)\n")
    start = time.monotonic()
    r = build(str(repo))
    assert r.status == "failed" and "disk limit" in (r.error or ""), r.error
    assert time.monotonic() - start < 300
    with db.session() as s:
        row = s.get(db.Build, r.build_id)
        assert row is not None and row.status == "failed" and "more than the 100 MB limit" in (row.error or "")
