"""A ``reset()/step()`` environment over a Forager session, for RL loops.

``reset()`` ends the previous session (if any), opens a new one on the task and answers the first
observation (the problem statement) and the tools. ``step({"tool": ..., "arguments": {...}})``
answers a ``Step``: the observation, the reward (0 until the episode is judged; then 1.0 when it
resolved, else 0.0), ``done``, and the server's answer in ``info``. A ``submit`` call, a session that
ended on the server, or the last action the session allows ends the episode (``done``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forager.client.api import ApiError, Client


@dataclass
class Step:
    observation: str
    reward: float
    done: bool
    info: dict[str, Any] = field(default_factory=dict)


class SessionEnv:
    def __init__(self, client: Client, task_id: str, *, model: str | None = None,
                 meta: dict[str, Any] | None = None, budgets: dict[str, int] | None = None) -> None:
        self.client, self.task_id = client, task_id
        self.model, self.meta, self.budgets = model, meta, budgets
        self.session: dict[str, Any] | None = None
        self.done = False
        self.steps = 0

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list((self.session or {}).get("tools", []))

    def reset(self) -> tuple[str, dict[str, Any]]:
        """A fresh session: (the problem statement, {session, tools, limits})."""
        self.close()
        self.session = self.client.open_session(self.task_id, model=self.model, meta=self.meta,
                                                budgets=self.budgets)
        self.done, self.steps = False, 0
        info = {"session_id": self.session["id"], "tools": self.session["tools"], "limits": self.session["limits"]}
        return str(self.session["problem_statement"]), info

    def step(self, action: dict[str, Any]) -> Step:
        if self.session is None or self.done:
            raise RuntimeError("call reset() first: no active session")
        try:
            out = self.client.act(self.session["id"], str(action.get("tool", "")), action.get("arguments") or {})
        except ApiError as exc:
            if exc.status == 409:  # the session ended on the server (failed, expired, actions spent)
                self.done = True
                return Step(f"error: {exc.detail}", 0.0, True, {"error": exc.detail, "status": exc.status})
            raise
        self.steps += 1
        reward = out.get("reward")
        self.done = out["state"] != "active" or self.steps >= int(self.session["limits"]["max_actions"])
        value = 1.0 if reward and reward.get("resolved") else 0.0
        return Step(out["observation"], value, self.done, out)

    def submit(self) -> Step:
        """Judge the work now (the same as a ``submit`` tool call)."""
        return self.step({"tool": "submit", "arguments": {}})

    def close(self) -> None:
        """End the session if it is still active (its trajectory is kept)."""
        if self.session is not None and not self.done:
            try:
                self.client.end_session(self.session["id"])
            except ApiError as exc:
                if exc.status not in (404, 409):
                    raise
        self.done = True
