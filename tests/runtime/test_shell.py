"""The persistent shell over the local runtime (no Docker): state, exit codes, timeouts, output
limits and stray processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forager.runtime.base import SANDBOX_ENV
from forager.runtime.local import LocalRuntime, LocalSandbox
from forager.runtime.shell import Shell


@pytest.fixture
def box(tmp_path: Path) -> Iterator[LocalSandbox]:
    image = tmp_path / "image"
    (image / "src").mkdir(parents=True)
    (image / "src" / "calc.py").write_text("def mean(values):\n    return sum(values) / len(values)\n")
    rt = LocalRuntime(images={"minipkg": image}, root=tmp_path / "runtime")
    with rt.start("minipkg") as sandbox:
        yield sandbox


def marked_pids(box: LocalSandbox) -> set[int]:
    """Processes carrying the sandbox's marker."""
    found = set()
    marker = f"{SANDBOX_ENV}={box.id}".encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def settled_marked_pids(box: LocalSandbox, keep: set[int]) -> set[int]:
    """``marked_pids`` once processes killed a moment ago have had 5 s to disappear."""
    deadline = time.monotonic() + 5
    while (left := marked_pids(box) - keep) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_state_persists_and_exit_codes_come_through(box: LocalSandbox) -> None:
    shell = Shell(box, env={"HOME": "/home/forager"}, output_limit=2000)
    try:
        assert shell.run("cd src && export FOO=bar", 10).exit_code == 0
        obs = shell.run("pwd; echo $FOO; printf tail", 10)
        assert obs.output == f"{box.path('/repo/src')}\nbar\ntail"
        assert shell.run("exit 7", 10).exit_code == 7
        assert shell.run("false; echo $?", 10).output.strip() == "1"
        assert shell.run("grep -c def calc.py", 10).output.strip() == "1"
        assert shell.run("echo $HOME", 10).output.strip() == box.path("/home/forager")
    finally:
        shell.close()


def test_long_output_keeps_head_and_tail(box: LocalSandbox) -> None:
    shell = Shell(box, output_limit=2000)
    try:
        obs = shell.run("seq 1 200000", 10)
        assert "elided" in obs.output and obs.output.startswith("1\n2\n")
        assert obs.output.rstrip().endswith("200000")
        assert len(obs.output) < 2000 + 200
        assert len(shell.run("seq 1 200000", 10, limit=None).output) > 1_000_000
    finally:
        shell.close()


def test_timeout_kills_the_command_and_the_shell_survives(box: LocalSandbox) -> None:
    shell = Shell(box)
    try:
        start = time.monotonic()
        obs = shell.run("sh -c 'sleep 300' & sleep 300", timeout=2)
        assert obs.timed_out and obs.exit_code == 124 and time.monotonic() - start < 10
        assert "timed out after 2s" in obs.output
        assert shell.run("echo alive", 10).output == "alive\n"
        assert shell.restarts == 0
    finally:
        shell.close()


def test_stray_processes_are_killed_when_a_command_ends(box: LocalSandbox) -> None:
    shell = Shell(box)
    try:
        shell.run("sleep 300 & setsid nohup sleep 301 >/dev/null 2>&1 & disown", 10)
        assert shell._proc is not None
        assert settled_marked_pids(box, {shell._proc.pid}) == set()
    finally:
        shell.close()


def test_a_dead_shell_is_replaced(box: LocalSandbox) -> None:
    shell = Shell(box)
    try:
        shell.run("export KEPT=1", 10)
        obs = shell.run("kill -9 $(cat /proc/$PPID/stat | cut -d' ' -f4)", 10)  # the shell itself
        assert obs.exit_code is None and "a new one was started" in obs.output
        assert shell.run("echo again $KEPT", 10).output == "again 1\n"
        assert shell.restarts == 1
    finally:
        shell.close()


def test_removing_the_sandbox_kills_its_processes(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.mkdir()
    rt = LocalRuntime(images={"img": image}, root=tmp_path / "runtime")
    box = rt.start("img")
    shell = Shell(box)
    root = box.root
    assert marked_pids(box)
    box.remove()
    assert settled_marked_pids(box, set()) == set() and not root.exists()
    assert not shell.alive
