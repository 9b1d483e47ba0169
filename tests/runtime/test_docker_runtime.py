"""The Docker runtime through the protocols: containers and volumes by label, the interactive
process, tar streams, disk usage, and the shell over a Docker sandbox."""

from __future__ import annotations

import contextlib
import io
import socket
import tarfile
import uuid
from typing import Any

import docker.errors
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


def test_containers_do_not_inherit_a_dead_owner_from_their_image(runtime: Any, base: str) -> None:
    """An image committed by a build (whose process is gone) once passed the build's owner label to
    every container made from it, so any reaper on the engine removed those containers mid-run."""
    from forager.build.owners import BUILD_LABEL, reap_dead_owners
    from forager.owner import OWNER_LABEL

    mark = uuid.uuid4().hex[:12]
    dead = f"{socket.gethostname()}:999999999"
    tag = f"forager/test-owned:{mark}"
    client = runtime.client
    made = client.containers.create(base, command=["true"], labels={OWNER_LABEL: dead, BUILD_LABEL: "b-x"})
    try:
        made.commit(repository="forager/test-owned", tag=mark)  # an image as old builds left them
        with runtime.start(tag, labels={"forager.test": mark}) as box:
            assert box.exec("true", 30).ok
            info = runtime.containers({"forager.test": mark})[0]
            assert info.labels[OWNER_LABEL] == ""
            reap_dead_owners()
            assert runtime.containers({"forager.test": mark}), "reaped as if a dead build owned it"
        with runtime.start(base, labels={"forager.test": mark}) as box:
            committed = box.commit(f"forager/test-owned:{mark}-2")
        assert client.images.get(committed).labels.get(OWNER_LABEL) == ""
    finally:
        with contextlib.suppress(docker.errors.NotFound):  # the reaper rightly took this one
            made.remove(force=True)
        for name in (tag, f"{tag}-2"):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(name, force=True)
