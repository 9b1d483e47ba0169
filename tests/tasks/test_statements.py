"""Problem statements: the template (failing tests and errors, never the patch) and the model's
issue-style text through a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from tasks_samples import PATCH
from tasks_samples import cand as _cand

from forager.config import reset_settings
from forager.tasks.candidates import Candidate
from forager.tasks.statements import model_statement, template_statement


def test_template_statement_names_failures_without_leaking_the_patch() -> None:
    messages = {"tests/test_mod.py::test_total": (
        "    def test_total():\n>       assert total([1, 2]) == 3\nE       assert -3 == 3\n"
        "src/pkg/mod.py:2: in total\n    return sum(values) - 0\nE   return sum(values) - 0 leaked\n")}
    text = template_statement(_cand(), ["tests/test_mod.py::test_total"], messages)
    assert "tests/test_mod.py::test_total" in text
    assert "assert -3 == 3" in text
    assert "sum(values)" not in text
    assert "1 test that used to pass now fails" in text
    stub = Candidate("implement-feature", "d", None, "src/pkg/mod.py", "total", PATCH, PATCH)
    assert "`total`" in template_statement(stub, ["t::a", "t::b"], {})


class _ScriptedModel(BaseHTTPRequestHandler):
    reply = ""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": type(self).reply}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_ScriptedModel]]:
    server = HTTPServer(("127.0.0.1", 0), _ScriptedModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("FORAGER_MODEL_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("FORAGER_MODEL_NAME", "scripted")
    reset_settings()
    yield _ScriptedModel
    server.shutdown()


def test_model_statement_is_used_unless_it_leaks(model_server: type[_ScriptedModel]) -> None:
    model_server.reply = "Totals are wrong: total([1, 2]) gives -3 instead of 3."
    assert model_statement(_cand(), ["t::a"], "template") == model_server.reply
    model_server.reply = "Change `return sum(values) - 0` back to a plus."
    assert model_statement(_cand(), ["t::a"], "template") is None


def test_model_statement_without_endpoint_or_with_a_dead_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert model_statement(_cand(), ["t::a"], "template") is None
    monkeypatch.setenv("FORAGER_MODEL_URL", "http://127.0.0.1:9/v1")
    reset_settings()
    assert model_statement(_cand(), ["t::a"], "template") is None
