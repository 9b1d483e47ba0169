"""The model-driven agent: a loop of one model call and one tool call per turn.

With ``tool_mode="native"`` the tools go to the model as OpenAI ``tools`` and observations come
back as ``tool`` messages; with ``text`` the tools are described in the system prompt and
observations come back as user messages. A reply without a tool call is answered with a hint;
three in a row end the episode (``no_action``). Model failures end it too (``model_error``,
``context_exceeded``); budgets are checked before every call."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from forager.clock import utcnow
from forager.episode.budget import EpisodeState, make_turn
from forager.episode.prompts import (
    NO_FUNCTION_CALL,
    NO_TOOL_CALL,
    ONE_CALL_PER_REPLY,
    SYSTEM_PROMPT,
    format_observation,
    user_prompt,
)
from forager.episode.tools import TOOLS
from forager.errors import InvalidInput
from forager.model import Completion, Model, ModelConfig, ModelError, get_model
from forager.runtime.shell import Observation
from forager.trajectory.schema import Action, ModelInfo

if TYPE_CHECKING:
    from forager.config import Settings
    from forager.episode.agents.base import AgentOptions
    from forager.episode.environment import Environment
    from forager.episode.spec import TaskSpec

MAX_NO_ACTION = 3
"""Replies in a row without a tool call that end the episode."""


def make_model(options: AgentOptions, settings: Settings) -> Model:
    """The model the options name (the settings' endpoint and name by default)."""
    from forager.model.keys import model_key_for

    if options.model is not None:
        return options.model
    url = options.model_url or settings.model_url
    name = options.model_name or settings.model_name
    if not url or not name:
        raise InvalidInput("the llm agent needs --model URL and --model-name NAME "
                           "(or FORAGER_MODEL_URL / FORAGER_MODEL_NAME)")
    # the server's own key goes only to its trusted endpoints; any other URL gets the caller's key or none
    return get_model("openai", url=url, model=name, api_key=model_key_for(url, options.api_key),
                     tool_mode=options.tool_mode, temperature=options.temperature,
                     config=ModelConfig.from_settings(settings))


class LLMAgent:
    """Drives ``model`` through ``run_llm_agent``."""

    def __init__(self, model: Model) -> None:
        self.model = model

    @classmethod
    def create(cls, options: AgentOptions, settings: Settings) -> LLMAgent:
        return cls(make_model(options, settings))

    def model_info(self) -> ModelInfo:
        return ModelInfo(name=self.model.model, url=self.model.url, sampling=self.model.sampling)

    def act(self, env: Environment, spec: TaskSpec, state: EpisodeState) -> str:
        return run_llm_agent(env, spec, state, self.model)

    def close(self) -> None:
        self.model.close()


def system_prompt(native: bool) -> str:
    from forager.model.text_actions import describe_tools_as_text

    return SYSTEM_PROMPT if native else SYSTEM_PROMPT + "\n\n" + describe_tools_as_text(TOOLS)


def run_llm_agent(env: Environment, spec: TaskSpec, state: EpisodeState, model: Model) -> str:
    """The agent loop; returns the exit reason."""
    native = model.tool_mode == "native"
    state.traj.system_prompt = system_prompt(native)
    messages: list[dict[str, Any]] = [{"role": "system", "content": state.traj.system_prompt},
                                      {"role": "user", "content": user_prompt(spec)}]
    no_action = 0
    while True:
        reason = state.out_of_budget()
        if reason:
            return reason
        begun = utcnow()
        t0 = time.monotonic()
        try:
            reply = model.complete(messages, TOOLS)
        except ModelError as exc:
            state.traj.meta["model_error"] = str(exc)[:2000]
            return "context_exceeded" if exc.context_exceeded else "model_error"
        state.tokens += reply.prompt_tokens + reply.completion_tokens
        if not reply.tool_calls:
            no_action += 1
            _answer_no_action(state, messages, reply, native, begun, t0)
            if no_action >= MAX_NO_ACTION:
                return "no_action"
            continue
        no_action = 0
        if _answer_action(env, state, messages, reply, native, begun, t0):
            return "submitted"


def _record(state: EpisodeState, reply: Completion, action: Action | None, obs: Observation,
            begun: datetime, t0: float) -> None:
    state.record(make_turn(len(state.traj.turns), reply.content, action, obs, begun, reply.duration_s,
                           reply.prompt_tokens, reply.completion_tokens))
    state.account(t0, reply.duration_s, obs)


def _answer_no_action(state: EpisodeState, messages: list[dict[str, Any]], reply: Completion, native: bool,
                      begun: datetime, t0: float) -> None:
    """A reply without a tool call: answered with a hint, recorded as a turn without action."""
    obs = Observation(f"error: {NO_TOOL_CALL if native else NO_FUNCTION_CALL}", None, 0.0)
    messages += [{"role": "assistant", "content": reply.content},
                 {"role": "user", "content": format_observation(obs)}]
    _record(state, reply, None, obs, begun, t0)


def _answer_action(env: Environment, state: EpisodeState, messages: list[dict[str, Any]], reply: Completion,
                   native: bool, begun: datetime, t0: float) -> bool:
    """Carry out the reply's first tool call (the others are refused); True when it submitted."""
    call = reply.tool_calls[0]
    action = Action(tool=call.name, args=call.arguments, call_id=call.id or None)
    obs = Observation(f"error: {call.error}", None, 0.0) if call.error else env.execute(action)
    if native:
        messages.append(reply.raw_message)
        for n, other in enumerate(reply.tool_calls):
            content = format_observation(obs) if n == 0 else ONE_CALL_PER_REPLY
            messages.append({"role": "tool", "tool_call_id": other.id, "content": content})
    else:
        messages += [{"role": "assistant", "content": reply.content},
                     {"role": "user", "content": "OBSERVATION:\n" + format_observation(obs)}]
    _record(state, reply, action, obs, begun, t0)
    return call.name == "submit" and not call.error
