"""What legitimately varies between two runs is normalised away, and real differences are kept."""

from __future__ import annotations

from forager.trajectory.replay.normalise import normalise

PYTEST_A = """============================= test session starts ==============================
platform linux -- Python 3.11.2, pytest-8.3.3, pluggy-1.5.0
rootdir: /repo
collected 3 items

tests/test_a.py ..F                                                      [100%]

    def test_tmp(tmp_path):
>       assert 0, (tmp_path, object())
E       AssertionError: (PosixPath('/tmp/pytest-of-forager/pytest-3/test_tmp0'),
E           <object object at 0x7f3a2c1e4f50>)
========================= 1 failed, 2 passed in 0.31s ==========================
"""


def test_normalise_removes_what_legitimately_varies() -> None:
    other = (
        PYTEST_A.replace("pytest-3", "pytest-11")
        .replace("0x7f3a2c1e4f50", "0x7f99aa001230")
        .replace("0.31s", "1.02s")
    )
    assert other != PYTEST_A and normalise(PYTEST_A) == normalise(other)
    pairs = [
        ("Wed Nov 25 09:13:29 UTC 2026", "Thu Nov 26 10:00:01 UTC 2026"),
        ("-rw-r--r-- 1 root root 12 Nov 25 09:13 a.py", "-rw-r--r-- 1 root root 12 Nov 26 11:02 a.py"),
        ("real\t0m0.005s\nuser\t0m0.001s", "real\t0m1.105s\nuser\t0m0.301s"),
        ("wrote /tmp/tmpab3_x9qz/out.txt", "wrote /tmp/tmpZZ01abcd/out.txt"),
        ("started at 2026-11-25T09:13:29.123456+00:00 (pid 4242)", "started at 2026-11-26 10:00:00 (pid 17)"),
        ("\x1b[31mFAILED\x1b[0m took 120ms  ", "FAILED took 3 ms"),
        (
            "[master 3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c] fix",
            "[master 0000000000000000000000000000000000000000] fix",
        ),
        ("Downloading 1.2 MB/s", "Downloading 800 kB/s"),
        ("/tmp/tmpk2j4x9ab 1795601396.5124533", "/tmp/tmp0a1b2c3d 1795601423.0671082"),
        ("ts=1795601396123", "ts=1795601423067"),
        ("line\r\nnext\n\n", "line\nnext"),
    ]
    for a, b in pairs:
        assert normalise(a) == normalise(b), (a, b)


def test_normalise_keeps_real_differences() -> None:
    for a, b in [
        ("1 failed, 2 passed", "3 passed"),
        ("x = 3", "x = 4"),
        ("/repo/src/a.py", "/repo/src/b.py"),
        ("exit 1", "exit 2"),
        ("value 10 s", "value 10 m"),
        ("v1.2.3", "v1.2.4"),
        ("id 1795601396", "id 1795601396x"),
        ("n = 12345678", "n = 12345679"),
    ]:
        assert normalise(a) != normalise(b), (a, b)
