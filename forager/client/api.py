"""HTTP clients of the Forager API (httpx): ``Client`` (sync) and ``AsyncClient`` (async), the same
methods with the same arguments. Each answers the response's JSON; a status >= 400 raises
``ApiError`` (its status, the server's ``detail``, and ``retry_after`` for a 429)."""

from __future__ import annotations

from typing import Any

import httpx

from forager.errors import ForagerError

Json = Any


class ApiError(ForagerError):
    def __init__(self, status: int, detail: Any, retry_after: float | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.retry_after = status, detail, retry_after


def _answer(r: httpx.Response) -> Json:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        after = r.headers.get("Retry-After")
        raise ApiError(r.status_code, detail, float(after) if after and after.isdigit() else None)
    return r.json() if r.content else None


def _session_body(task_id: str, model: str | None, meta: dict[str, Any] | None,
                  budgets: dict[str, int] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"task_id": task_id, "meta": meta or {}}
    if model:
        body["model"] = model
    if budgets:
        body["budgets"] = budgets
    return body


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class Client:
    """``Client("http://127.0.0.1:8000", token)``; a context manager closing its connections."""

    def __init__(self, base_url: str, token: str, timeout: float = 600.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                 headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Json:
        return _answer(self.http.request(method, path, **kwargs))

    # -- sessions
    def open_session(self, task_id: str, *, model: str | None = None, meta: dict[str, Any] | None = None,
                     budgets: dict[str, int] | None = None) -> Json:
        return self.request("POST", "/v1/sessions", json=_session_body(task_id, model, meta, budgets))

    def act(self, session_id: str, tool: str, arguments: dict[str, Any] | None = None) -> Json:
        return self.request("POST", f"/v1/sessions/{session_id}/actions",
                            json={"tool": tool, "arguments": arguments or {}})

    def bash(self, session_id: str, command: str) -> Json:
        return self.act(session_id, "bash", {"command": command})

    def submit(self, session_id: str) -> Json:
        return self.request("POST", f"/v1/sessions/{session_id}/submit")

    def session(self, session_id: str) -> Json:
        return self.request("GET", f"/v1/sessions/{session_id}")

    def end_session(self, session_id: str) -> Json:
        return self.request("DELETE", f"/v1/sessions/{session_id}")

    # -- builds, tasks, trajectories, jobs
    def build(self, source: str, commit: str | None = None, python: str | None = None) -> Json:
        return self.request("POST", "/v1/builds", json=_clean({"source": source, "commit": commit, "python": python}))

    def get_build(self, build_id: str) -> Json:
        return self.request("GET", f"/v1/builds/{build_id}")

    def tasks(self, **filters: Any) -> Json:
        return self.request("GET", "/v1/tasks", params=_clean(filters))

    def task(self, task_id: str) -> Json:
        return self.request("GET", f"/v1/tasks/{task_id}")

    def generate_tasks(self, image: str, kind: str = "mutate-fix", max_tasks: int = 5) -> Json:
        return self.request("POST", "/v1/tasks", json={"image": image, "kind": kind, "max_tasks": max_tasks})

    def trajectories(self, **filters: Any) -> Json:
        return self.request("GET", "/v1/trajectories", params=_clean(filters))

    def trajectory(self, trajectory_id: str) -> Json:
        return self.request("GET", f"/v1/trajectories/{trajectory_id}")

    def upload_trajectory(self, trajectory: dict[str, Any]) -> Json:
        return self.request("POST", "/v1/trajectories", json=trajectory)

    def job(self, job_id: str) -> Json:
        return self.request("GET", f"/v1/jobs/{job_id}")


class AsyncClient:
    """The async twin of ``Client`` (``async with AsyncClient(url, token) as c: await c.bash(...)``)."""

    def __init__(self, base_url: str, token: str, timeout: float = 600.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                      headers={"Authorization": f"Bearer {token}"})

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, **kwargs: Any) -> Json:
        return _answer(await self.http.request(method, path, **kwargs))

    async def open_session(self, task_id: str, *, model: str | None = None, meta: dict[str, Any] | None = None,
                           budgets: dict[str, int] | None = None) -> Json:
        return await self.request("POST", "/v1/sessions", json=_session_body(task_id, model, meta, budgets))

    async def act(self, session_id: str, tool: str, arguments: dict[str, Any] | None = None) -> Json:
        return await self.request("POST", f"/v1/sessions/{session_id}/actions",
                                  json={"tool": tool, "arguments": arguments or {}})

    async def bash(self, session_id: str, command: str) -> Json:
        return await self.act(session_id, "bash", {"command": command})

    async def submit(self, session_id: str) -> Json:
        return await self.request("POST", f"/v1/sessions/{session_id}/submit")

    async def session(self, session_id: str) -> Json:
        return await self.request("GET", f"/v1/sessions/{session_id}")

    async def end_session(self, session_id: str) -> Json:
        return await self.request("DELETE", f"/v1/sessions/{session_id}")

    async def build(self, source: str, commit: str | None = None, python: str | None = None) -> Json:
        return await self.request("POST", "/v1/builds",
                                  json=_clean({"source": source, "commit": commit, "python": python}))

    async def get_build(self, build_id: str) -> Json:
        return await self.request("GET", f"/v1/builds/{build_id}")

    async def tasks(self, **filters: Any) -> Json:
        return await self.request("GET", "/v1/tasks", params=_clean(filters))

    async def task(self, task_id: str) -> Json:
        return await self.request("GET", f"/v1/tasks/{task_id}")

    async def generate_tasks(self, image: str, kind: str = "mutate-fix", max_tasks: int = 5) -> Json:
        return await self.request("POST", "/v1/tasks", json={"image": image, "kind": kind, "max_tasks": max_tasks})

    async def trajectories(self, **filters: Any) -> Json:
        return await self.request("GET", "/v1/trajectories", params=_clean(filters))

    async def trajectory(self, trajectory_id: str) -> Json:
        return await self.request("GET", f"/v1/trajectories/{trajectory_id}")

    async def upload_trajectory(self, trajectory: dict[str, Any]) -> Json:
        return await self.request("POST", "/v1/trajectories", json=trajectory)

    async def job(self, job_id: str) -> Json:
        return await self.request("GET", f"/v1/jobs/{job_id}")
