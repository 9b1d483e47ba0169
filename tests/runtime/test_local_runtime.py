"""The local runtime (directories on the host standing for containers): commands, files, images,
labels. No Docker."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from forager.errors import EngineError, ImageMissing
from forager.runtime.local import LocalRuntime


@pytest.fixture
def rt(tmp_path: Path) -> LocalRuntime:
    image = tmp_path / "image"
    (image / "pkg").mkdir(parents=True)
    (image / "pkg" / "mod.py").write_text("X = 1\n")
    return LocalRuntime(images={"minipkg": image}, root=tmp_path / "runtime")


def test_exec_maps_workdir_home_and_exit_codes(rt: LocalRuntime) -> None:
    with rt.start("minipkg") as box:
        res = box.exec("pwd; echo $HOME; cat pkg/mod.py", 10, workdir="/repo")
        assert res.ok and res.output == f"{box.root}/repo\n{box.root}/root\nX = 1\n"
        assert box.exec("exit 3", 10).exit_code == 3
        assert box.exec("echo $A", 10, env={"A": "b"}).output == "b\n"
        slow = box.exec("sleep 30", 1)
        assert slow.timed_out and slow.exit_code == 124 and "timed out after 1s" in slow.output


def test_files_and_tar_streams(rt: LocalRuntime, tmp_path: Path) -> None:
    with rt.start("minipkg") as box:
        box.put_files({"notes/a.txt": b"hello"}, "/repo")
        assert box.get_file("/repo/notes/a.txt") == b"hello"
        assert box.get_file("/repo/nothing") is None
        src = tmp_path / "src"
        (src / "__pycache__").mkdir(parents=True)
        (src / "keep.py").write_text("k\n")
        box.put_dir(src, "/opt/src")
        assert box.get_file("/opt/src/keep.py") == b"k\n" and box.get_file("/opt/src/__pycache__") is None
        data = box.get_tar("/repo", ["--exclude=./notes"])
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            names = tar.getnames()
        assert "./pkg/mod.py" in names and not any("notes" in n for n in names)
        with pytest.raises(EngineError, match="more than"):
            box.get_tar("/repo", max_bytes=10)
        box.put_tar(data, "/copy")
        assert box.get_file("/copy/pkg/mod.py") == b"X = 1\n"
        assert box.disk_usage() > 0


def test_commit_makes_an_image_from_repo(rt: LocalRuntime) -> None:
    with rt.start("minipkg") as box:
        box.exec("echo 2 > pkg/two.py", 10, workdir="/repo")
        digest = box.commit("minipkg:two", labels={"forager.kind": "repository"}, workdir="/repo")
    assert rt.image_exists("minipkg:two") and rt.image_digest("minipkg:two") == digest
    assert rt.image_labels("minipkg:two") == {"forager.kind": "repository"}
    with rt.start("minipkg:two") as box:
        assert box.exec("cat pkg/two.py", 10).output == "2\n"  # the image's workdir is the default
    rt.tag("minipkg:two", "alias:1")
    assert rt.image_digest("alias:1") == digest
    rt.remove_image("alias:1")
    assert not rt.image_exists("alias:1") and rt.image_size("minipkg:two") > 0


def test_containers_by_label_and_removal(rt: LocalRuntime) -> None:
    a = rt.start("minipkg", name="forager-a", labels={"role": "episode", "owner": "h:1"})
    b = rt.start("minipkg", name="forager-b", labels={"role": "build"})
    assert [c.name for c in rt.containers({"role": "episode"})] == ["forager-a"]
    assert {c.name for c in rt.containers({"role": None})} == {"forager-a", "forager-b"}
    assert rt.remove_container("forager-a") and not rt.remove_container("forager-a")
    assert not a.root.exists()
    again = rt.start("minipkg", name="forager-b")  # a name in use: the old one goes
    assert not b.root.exists() and [c.id for c in rt.containers({})] == [again.id]
    again.remove()
    assert rt.volumes({}) == [] and not rt.remove_volume("v")


def test_missing_images_and_no_registry(rt: LocalRuntime) -> None:
    with pytest.raises(ImageMissing):
        rt.start("nope")
    with pytest.raises(ImageMissing):
        rt.pull("registry.example/minipkg:1")
    with pytest.raises(EngineError):
        rt.push("registry.example/minipkg:1")
