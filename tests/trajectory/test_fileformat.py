"""The trajectory file format (forager.trajectory.fileformat): one parser, strict for uploads and
lenient for damaged files."""

from __future__ import annotations

import gzip
import json

import pytest

from forager.trajectory.checks import FormatError, TooLarge
from forager.trajectory.fileformat import dumps, parse, to_lines
from forager.trajectory.schema import Action, Reward, Trajectory, Turn


def sample() -> Trajectory:
    turns = [Turn(index=i, action=Action(tool="bash", args={"command": f"echo {i}"}), observation=str(i),
                  exit_code=0) for i in range(3)]
    return Trajectory(id="traj-fmt", task_id="task-x", turns=turns, reward=Reward(resolved=True),
                      exit_reason="submitted")


def test_strict_and_lenient_read_a_whole_file_alike() -> None:
    raw = dumps(sample())
    strict, lenient = parse(raw, strict=True), parse(raw, strict=False)
    assert strict.trajectory == lenient.trajectory == sample()
    assert strict.error is None and lenient.error is None and strict.valid_lines == lenient.valid_lines == 5
    one_object = sample().model_dump_json().encode()
    assert parse(one_object, strict=True).trajectory == sample()


def test_lenient_keeps_the_valid_lines_of_a_truncated_file() -> None:
    text = "\n".join(to_lines(sample())[:3])
    result = parse(text.encode(), strict=False)
    assert len(result.trajectory.turns) == 2 and not result.trajectory.complete
    assert result.error == "no outcome line: the episode did not finish"
    with pytest.raises(FormatError, match="no outcome line"):
        parse(text.encode(), strict=True)


def test_strict_refuses_what_cannot_be_stored() -> None:
    lines = to_lines(sample())
    bad_turn = json.loads(lines[1])
    bad_turn["duration_s"] = float("nan")
    nan = "\n".join([lines[0], json.dumps(bad_turn), *lines[2:]]).encode()
    with pytest.raises(FormatError, match="not valid JSON: NaN is not a JSON number"):
        parse(nan, strict=True)
    with pytest.raises(FormatError, match="schema_version is missing"):
        parse(b"{}", strict=True)
    with pytest.raises(FormatError) as err:
        parse(json.dumps({"schema_version": "forager.trajectory/1", "surprise": 1}).encode(), strict=True)
    assert err.value.detail[0]["loc"] == ["surprise"]
    with pytest.raises(FormatError, match="truncated"):
        parse(dumps(sample())[:-10], strict=True)
    with pytest.raises(TooLarge):
        parse(gzip.compress(b" " * 10_000), strict=True, max_bytes=1000)
    with pytest.raises(FormatError, match="expected a header line"):
        parse("\n".join(lines[1:]).encode(), strict=True, form="lines")


def test_lenient_stops_at_a_line_that_is_not_an_object() -> None:
    """A damaged file with a JSON line that is not an object ([1]) crashed the lenient reader (and
    the viewer with a 500); it stops there like at any other bad line."""
    lines = to_lines(sample())
    raw = "\n".join([*lines[:2], "[1]", *lines[2:]]).encode()
    result = parse(raw, strict=False)
    assert len(result.trajectory.turns) == 1 and not result.trajectory.complete
    assert result.error == "line 3: a line must be a JSON object, not list"
