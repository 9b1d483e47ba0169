"""The Docker runtime through the protocols: containers and volumes by label, the interactive
process, tar streams, disk usage, and the shell over a Docker sandbox."""

from __future__ import annotations

import io
import tarfile
import uuid
from typing import Any

import pytest
from needs import unavailable

from forager.runtime import Limits
from forager.runtime.pipcache import OVERLAY_LABEL, discard_pip_overlay
from forager.runtime.shell import Shell

BASE = "forager/base:3.11"


@pytest.fixture(scope="module")
def base(runtime: Any) -> str:
    """The base image (made by ``deploy/setup.sh``): small, and needs no build of ours."""
    if not runtime.image_exists(BASE):
        unavailable(f"no {BASE} image")
    return BASE


def test_containers_by_label_and_removal(runtime: Any, base: str) -> None:
    mark = uuid.uuid4().hex[:12]
    with runtime.start(base, labels={"forager.test": mark}) as box:
        found = runtime.containers({"forager.test": mark})
        assert [(c.id, c.name) for c in found] == [(box.id, box.name)]
        assert found[0].labels["forager"] == "1"
        assert runtime.containers({"forager.test": None})
        assert runtime.remove_container(box.name) and not runtime.remove_container(box.name)
    assert runtime.containers({"forager.test": mark}) == []


def test_tar_streams_interactive_and_disk(runtime: Any, base: str) -> None:
    with runtime.start(base, limits=Limits.from_settings(disk=True), workspace="/repo") as box:
        box.put_files({"notes/a.txt": b"hello"}, "/repo")  # /repo is a tmpfs here: through tar
        assert box.get_file("/repo/notes/a.txt") == b"hello"
        data = box.get_tar("/repo", ["--exclude=./.git"])
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            assert "./notes/a.txt" in tar.getnames()
        box.put_tar(data, "/opt")
        assert box.exec("cat /opt/notes/a.txt", 30).output == "hello"
        proc = box.interactive(["bash", "-c", "read x; echo got $x $FOO; pwd"], env={"FOO": "bar"}, workdir="/tmp")
        out, _ = proc.communicate(b"it\n", timeout=30)
        assert out == b"got it bar\n/tmp\n"
        box.exec("head -c 3000000 /dev/zero > /opt/big", 30)
        assert box.disk_usage() >= 3_000_000
        assert box.path("/repo") == "/repo" and box.pid_namespace


def test_shell_over_docker_kills_strays(runtime: Any, base: str) -> None:
    with runtime.start(base) as box:
        shell = Shell(box)
        try:
            assert shell.run("mkdir -p /tmp/w/src && cd /tmp/w/src && export FOO=bar", 30).exit_code == 0
            assert shell.run("pwd; echo $FOO", 30).output == "/tmp/w/src\nbar\n"
            shell.run("sleep 300 & setsid nohup sleep 301 >/dev/null 2>&1 &", 30)
            assert "sleep 30" not in shell.run("ps -eo args", 30).output
        finally:
            shell.close()


def test_pip_overlay_volumes_are_found_and_discarded(runtime: Any) -> None:
    name = f"forager-test-{uuid.uuid4().hex[:12]}"
    runtime.client.volumes.create(f"{name}-pip-upper", labels={OVERLAY_LABEL: name})
    assert [v.name for v in runtime.volumes({OVERLAY_LABEL: name})] == [f"{name}-pip-upper"]
    assert discard_pip_overlay(runtime, name) == [f"{name}-pip-upper"]
    assert runtime.volumes({OVERLAY_LABEL: name}) == [] and not runtime.remove_volume(f"{name}-pip-upper")
