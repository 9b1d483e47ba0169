"""Plain-text actions for models without tool calling: the tools described in the prompt, and the
calls read back out of a reply, in the widely used function-call markup::

    <function=edit>
    <parameter=path>src/pkg/mod.py</parameter>
    <parameter=old_str>return a - b</parameter>
    <parameter=new_str>return a + b</parameter>
    </function>
"""

from __future__ import annotations

import json
import re
from typing import Any

from forager.model.base import ToolCall

_FUNCTION = re.compile(r"<function=([\w.\-]+)>(.*?)(?:</function>|\Z)", re.DOTALL)
_PARAM = re.compile(r"<parameter=([\w.\-]+)>(.*?)</parameter>", re.DOTALL)


def _strip_one_newline(value: str) -> str:
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value.strip())
    if kind == "array":
        text = value.strip()
        if text.startswith("["):
            return list(json.loads(text))
        return [v for v in re.split(r"[\n,]+|\s+", text) if v]
    if kind == "boolean":
        return value.strip().lower() in ("1", "true", "yes")
    return value


def parse_text_action(content: str, tools: list[dict[str, Any]] | None = None) -> list[ToolCall]:
    """Read ``<function=NAME><parameter=K>V</parameter>...</function>`` calls out of a reply."""
    schemas = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools or []}
    calls: list[ToolCall] = []
    for n, match in enumerate(_FUNCTION.finditer(content)):
        name, body = match.group(1), match.group(2)
        props = schemas.get(name, {}).get("properties", {})
        args: dict[str, Any] = {}
        error = ""
        for key, raw in _PARAM.findall(body):
            value = _strip_one_newline(raw)
            try:
                args[key] = _coerce(value, props.get(key, {}))
            except (ValueError, json.JSONDecodeError) as exc:
                error = f"parameter {key!r}: {exc}"
        calls.append(ToolCall(name=name, arguments=args, id=f"text-{n}", error=error))
    return calls


def format_text_action(name: str, args: dict[str, Any]) -> str:
    """One call written in the markup ``parse_text_action`` reads (lists as JSON)."""
    params = "".join(f"<parameter={k}>\n{json.dumps(v) if isinstance(v, list) else v}\n</parameter>\n"
                     for k, v in args.items())
    return f"<function={name}>\n{params}</function>"


def describe_tools_as_text(tools: list[dict[str, Any]]) -> str:
    """The tool list and the plain-text call format, for the system prompt of a text-mode model."""
    lines = [
        "You act by writing exactly one function call at the end of each reply, in this format:",
        "",
        "<function=NAME>",
        "<parameter=PARAM_NAME>value</parameter>",
        "<parameter=OTHER_PARAM>",
        "a value that may span",
        "several lines",
        "</parameter>",
        "</function>",
        "",
        "Values are written raw (no quoting or escaping). Available functions:",
    ]
    for t in tools:
        fn = t["function"]
        lines.append(f"\n## {fn['name']}\n{fn.get('description', '')}")
        required = set(fn.get("parameters", {}).get("required", []))
        for pname, spec in fn.get("parameters", {}).get("properties", {}).items():
            need = "required" if pname in required else "optional"
            lines.append(f"- {pname} ({spec.get('type', 'string')}, {need}): {spec.get('description', '')}")
    return "\n".join(lines)
