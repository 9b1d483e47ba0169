"""What the model reads: the system prompt, the task prompt, and observations as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forager.episode.spec import TaskSpec
    from forager.runtime.shell import Observation

SYSTEM_PROMPT = """You are a software engineer working in a Python repository at /repo, inside a \
sandbox with no network access. Investigate the problem, change the code to fix it, check your work \
with the tests, and submit when done. Use one tool call per reply. Paths may be absolute or \
relative to /repo."""

NO_TOOL_CALL = "No tool call found. Call exactly one tool."
NO_FUNCTION_CALL = "No function call found. End your reply with one <function=NAME>...</function> call."
ONE_CALL_PER_REPLY = "error: not executed; make one tool call per reply"


def user_prompt(spec: TaskSpec) -> str:
    return (f"<problem_statement>\n{spec.problem_statement.strip() or 'Make the failing tests pass.'}\n"
            f"</problem_statement>\n\nFix the problem in /repo so that the tests pass without "
            f"breaking other tests. Do not modify the tests. Call submit when you are done.")


def format_observation(obs: Observation) -> str:
    status = "none" if obs.exit_code is None else str(obs.exit_code)
    return f"{obs.output.rstrip()}\n[exit code: {status}]"
