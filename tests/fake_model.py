"""A local OpenAI-compatible chat-completions server that plays scripted replies.

This is the only stand-in in the test suite: the real ``forager.model.ChatClient`` talks HTTP to
it exactly as it would to vLLM or a hosted API. Each request consumes the next scripted step:

* ``{"content": "...", "tool_calls": [("bash", {"command": "ls"}), ...]}``: a 200 answer;
* ``{"status": 500}`` (optionally ``"body"``, ``"retry_after"``): an error answer;
* ``{"delay": 2.0, ...}``: wait first (combine with the other keys);
* ``{"usage": False}``: leave out the ``usage`` block;
* ``{"raw": "..."}``: a 200 answer whose body is this text (not JSON).

When the script is used up, the server answers with a plain message without any action.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def tool_call(name: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return (name, args)


def text_call(name: str, args: dict[str, Any]) -> str:
    """The plain-text function-call markup a non-tool-calling model writes."""
    params = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in args.items())
    return f"<function={name}>\n{params}</function>"


class FakeModel:
    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner.lock:
                    owner.requests.append({"path": self.path, "body": body,
                                           "auth": self.headers.get("authorization"),
                                           "time": time.monotonic()})
                    step = owner.script.pop(0) if owner.script else {"content": "I am out of ideas."}
                if step.get("delay"):
                    time.sleep(float(step["delay"]))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if "raw" in step:
                    self._send(200, str(step["raw"]))
                    return
                status = int(step.get("status", 200))
                if status != 200:
                    headers = {"Retry-After": str(step["retry_after"])} if "retry_after" in step else {}
                    self._send(status, step.get("body", {"error": {"message": "scripted failure"}}),
                               headers)
                    return
                self._send(200, owner.answer(step, body))

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, step: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        n = len(self.requests)
        message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
        calls = step.get("tool_calls") or []
        if calls:
            message["tool_calls"] = [
                {"id": f"call_{n}_{i}", "type": "function",
                 "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                for i, (name, args) in enumerate(calls)]
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{n}", "object": "chat.completion", "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
        }
        if step.get("usage", True):
            prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", [])) // 4
            answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": 20,
                               "total_tokens": prompt + 20}
        return answer

    def __enter__(self) -> FakeModel:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
