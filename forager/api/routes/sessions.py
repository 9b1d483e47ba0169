"""``/v1/sessions``: an outside agent acts in a task step by step (``forager.sessions``).

Open (201: the problem statement, the tools as JSON schemas, the limits), act (one tool call: the
container's observation, exit code, duration, step index), submit (the reward, judged as an
episode's), show, end. A session belongs to the token that opened it: any other token gets 404.
Over the session limits: 429 with ``Retry-After``; a session that is not active: 409; a body over
``FORAGER_SESSION_MAX_PAYLOAD_BYTES``: 413 (``BodyLimit``, before the body is parsed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forager.api.deps import Read, SettingsDep, Write
from forager.api.schemas import ActionIn, ActionOut, SessionCreated, SessionIn, SessionLimitsOut, SessionOut, SubmitOut
from forager.config import get_settings
from forager.enums import SessionState
from forager.episode.tools import TOOL_NAMES, TOOLS
from forager.sessions import actions, manager
from forager.sessions.limits import SessionError
from forager.store.sessions import SessionRow

PREFIX = "/v1/sessions"
router = APIRouter(prefix=PREFIX, tags=["sessions"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session for this token (another token's session is not shown)."},
    409: {"description": "The session is not active, is busy with another action, or has no actions left."},
    413: {"description": "The request body is over `FORAGER_SESSION_MAX_PAYLOAD_BYTES`."},
}


@contextmanager
def answered() -> Iterator[None]:
    """A ``SessionError`` answers its status (and ``Retry-After`` when it has one)."""
    try:
        yield
    except SessionError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        raise HTTPException(exc.status, str(exc), headers=headers) from exc


def _out(row: SessionRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in SessionOut.model_fields}


@router.post("", response_model=SessionCreated, status_code=201,
             responses={**ERRORS, 429: {"description": "Too many active sessions (see `Retry-After`)."},
                        503: {"description": "The session's sandbox did not start."}},
             description="Open a session on a task: a container at the task state, in the episodes' sandbox.")
def open_session(body: SessionIn, token: Write, settings: SettingsDep) -> SessionCreated:
    with answered():
        opened = manager.open_session(body.task_id, token.id, model=body.model, meta=body.meta,
                                      budgets=body.budgets, settings=settings)
    return SessionCreated(**_out(opened.row), problem_statement=opened.spec.problem_statement, tools=TOOLS,
                          limits=SessionLimitsOut(**opened.limits.to_dict()))


@router.post("/{session_id}/actions", response_model=ActionOut, responses=ERRORS,
             description="One tool call in the session's container; recorded by the farm as a turn. "
                         "Bad arguments answer an error observation (recorded, no exit code).")
def act(session_id: str, body: ActionIn, token: Write, settings: SettingsDep) -> ActionOut:
    if body.tool not in TOOL_NAMES:
        raise HTTPException(422, f"unknown tool {body.tool!r}; tools: {', '.join(TOOL_NAMES)}")
    with answered():
        done = actions.act(session_id, token.id, body.tool, body.arguments, settings)
    return ActionOut(step=done.step, observation=done.observation, exit_code=done.exit_code,
                     duration_s=done.duration_s, timed_out=done.timed_out, state=SessionState(done.state),
                     reward=done.reward)


@router.post("/{session_id}/submit", response_model=SubmitOut, responses=ERRORS,
             description="Judge the work exactly as an episode's: a fresh container at the task state, test "
                         "files restored, test infrastructure changes flagged. The session ends `submitted`.")
def submit(session_id: str, token: Write, settings: SettingsDep) -> SubmitOut:
    with answered():
        done = actions.submit(session_id, token.id, settings)
    row = manager.show(session_id, token.id)
    return SubmitOut(**_out(row), resolved=bool(done.reward and done.reward.resolved))


@router.get("/{session_id}", response_model=SessionOut, responses={404: ERRORS[404]})
def show_session(session_id: str, token: Read) -> SessionOut:
    return SessionOut(**_out(manager.show(session_id, token.id)))


@router.delete("/{session_id}", response_model=SessionOut, responses=ERRORS,
               description="End the session: its container is removed, its trajectory kept (`ended_by_client`).")
def end_session(session_id: str, token: Write) -> SessionOut:
    with answered():
        row = manager.end_by_client(session_id, token.id)
    return SessionOut(**_out(row))


class BodyLimit:
    """ASGI middleware: a request body to ``/v1/sessions`` over the payload limit answers 413 before
    anything parses it (by its Content-Length, or while it streams in)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        limit = get_settings().session_max_payload_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > limit:
                await _too_large(send, limit)
                return
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, then the client's own messages (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _too_large(send: Send, limit: int) -> None:
    data = json.dumps({"detail": f"request body is over the limit of {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
