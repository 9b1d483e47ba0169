"""Plain-text ``<function=...>`` actions read out of a reply."""

from __future__ import annotations

from fake_model import text_call

from forager.episode.tools import TOOLS
from forager.model.text_actions import parse_text_action


def test_plain_text_actions_parse() -> None:
    reply = ("I'll edit it.\n" + text_call("edit", {"path": "x.py", "old_str": "a = 1\n    b = 2",
                                                    "new_str": "a = 2"}))
    [call] = parse_text_action(reply, TOOLS)
    assert call.name == "edit" and call.arguments["old_str"] == "a = 1\n    b = 2"
    [call] = parse_text_action("<function=run_tests>\n<parameter=tests>\ntests/a.py::t1\ntests/b.py::t2\n"
                               "</parameter>\n</function>", TOOLS)
    assert call.arguments == {"tests": ["tests/a.py::t1", "tests/b.py::t2"]}
    [call] = parse_text_action("<function=view><parameter=path>a</parameter>"
                               "<parameter=start_line>x</parameter>", TOOLS)  # no closing tag
    assert call.name == "view" and "start_line" in call.error
    assert parse_text_action("no call here", TOOLS) == []
