"""One trajectory as one training record: an OpenAI-style chat plus what the trajectory was.

The chat is the system prompt, the task as the user turn, then for every step an *agent* turn
(``assistant``, with a ``tool_calls`` entry for the action) and an *environment* turn (``tool``,
the observation with its exit code). Trajectories of text-mode models are kept as they were seen:
the action inside the assistant text, the observation as a ``user`` turn. ``num_tokens`` is
``forager.model.tokens.messages_tokens``, a documented approximation (no tokenizer download).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from forager.model.tokens import messages_tokens
from forager.trajectory.present import observation_text
from forager.trajectory.schema import Trajectory


def record_id(trajectory_id: str) -> str:
    """A stable record id: ``rec-`` + the first 16 hex digits of sha256(trajectory id)."""
    return "rec-" + hashlib.sha256(trajectory_id.encode()).hexdigest()[:16]


def chat_messages(traj: Trajectory) -> list[dict[str, Any]]:
    """The trajectory as chat messages (agent turns and environment turns)."""
    text_mode = traj.model.sampling.get("tool_mode") == "text"
    messages: list[dict[str, Any]] = []
    if traj.system_prompt:
        messages.append({"role": "system", "content": traj.system_prompt})
    messages.append({"role": "user", "content": traj.problem_statement})
    for turn in traj.turns:
        observation = observation_text(turn.observation, turn.exit_code)
        if turn.action is None or text_mode:
            messages.append({"role": "assistant", "content": turn.model_message})
            prefix = "OBSERVATION:\n" if turn.action is not None else ""
            messages.append({"role": "user", "content": prefix + observation})
            continue
        call_id = turn.action.call_id or f"call-{turn.index}"
        messages.append({"role": "assistant", "content": turn.model_message or None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": turn.action.tool,
                          "arguments": json.dumps(turn.action.args, sort_keys=True)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": observation})
    return messages


def to_record(traj: Trajectory) -> dict[str, Any]:
    """One export record: the chat, the outcome, and an approximate token count."""
    messages = chat_messages(traj)
    resolved = traj.resolved
    return {
        "id": record_id(traj.id or ""),
        "trajectory_id": traj.id,
        "task_id": traj.task_id,
        "repository": traj.repository,
        "kind": traj.kind,
        "image": traj.image,
        "agent": traj.agent,
        "model": traj.model.name,
        "resolved": resolved,
        "outcome": "resolved" if resolved else "unresolved",
        "complete": traj.complete,
        "exit_reason": traj.exit_reason,
        "steps": len(traj.turns),
        "num_tokens": messages_tokens(messages),
        "messages": messages,
        "final_diff": traj.final_diff,
        "reward": traj.reward.model_dump(mode="json") if traj.reward else None,
    }
