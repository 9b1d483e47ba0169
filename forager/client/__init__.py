"""A small Python client of the Forager API (``api`` — sync ``Client`` and async ``AsyncClient``:
sessions, builds, tasks, trajectories, jobs), a ``reset()/step()`` environment over a session for
RL loops (``env``), and an environment adapter for mini-swe-agent (``minisweagent``)."""

from forager.client.api import ApiError, AsyncClient, Client
from forager.client.env import SessionEnv, Step

__all__ = ["ApiError", "AsyncClient", "Client", "SessionEnv", "Step"]
