"""The CSV, YAML and XML renderings of a response (RANDOMUSER-API.md 4.3-4.5)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from randomuser_sim.params import js_number, js_string

# yamljs (which production uses) quoting rules.
_YAML_DOUBLE: Final = re.compile("[\x00-\x1f\x85\xa0\u2028\u2029]")
_YAML_SINGLE: Final = re.compile(r"[\s'\":{}\[\],&*#?]|^[-?|<>=!%@`]")
_YAML_DATE: Final = re.compile(r"\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+).*)?")
_YAML_WORDS: Final = frozenset({"null", "~", "true", "false"})
_YAML_INLINE: Final = 4
_YAML_INDENT: Final = 4


def to_csv(users: list[dict[str, Any]]) -> str:
    """Users only, flattened to dotted columns in first-seen order; no final newline."""
    rows = [dict(_flatten(user, "")) for user in users]
    header = list(dict.fromkeys(key for row in rows for key in row))
    lines = [",".join(header)]
    lines.extend(
        ",".join(_csv_cell(row.get(key, "")) for key in header) for row in rows
    )
    return "\n".join(lines)


def _flatten(value: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, inner in value.items():
        if isinstance(inner, dict):
            out.extend(_flatten(inner, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", inner))
    return out


def _csv_cell(value: Any) -> str:
    text = _scalar_text(value)
    if any(char in text for char in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return js_string(value)
    return str(value)


def to_yaml(document: dict[str, Any]) -> str:
    """Block YAML, 4-space indents, objects deeper than 4 levels inline (yamljs)."""
    return _yaml_block(document, _YAML_INLINE, 0)


def _yaml_block(value: Any, inline: int, indent: int) -> str:
    prefix = " " * indent
    if inline <= 0 or not isinstance(value, dict | list) or not value:
        return prefix + _yaml_inline(value)
    items = value.items() if isinstance(value, dict) else (("-", v) for v in value)
    out = []
    for key, inner in items:
        label = "-" if isinstance(value, list) else f"{_yaml_inline(key)}:"
        if inline - 1 <= 0 or not isinstance(inner, dict | list) or not inner:
            out.append(f"{prefix}{label} {_yaml_inline(inner)}\n")
        else:
            nested = _yaml_block(inner, inline - 1, indent + _YAML_INDENT)
            out.append(f"{prefix}{label}\n{nested}")
    return "".join(out)


def _yaml_inline(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        pairs = (f"{_yaml_inline(k)}: {_yaml_inline(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_inline(v) for v in value) + "]"
    if isinstance(value, int | float):
        return _scalar_text(value)
    text = str(value)
    if text.strip() and not math.isnan(js_number(text)):
        return f"'{text}'"  # numeric-looking strings stay strings
    if _YAML_DOUBLE.search(text):
        return json.dumps(text, ensure_ascii=False)
    if _YAML_SINGLE.search(text):
        return "'" + text.replace("'", "''") + "'"
    if not text:
        return '""'
    if _YAML_DATE.fullmatch(text) or text.lower() in _YAML_WORDS:
        return f"'{text}'"
    return text


def to_xml(users: list[dict[str, Any]], info: dict[str, Any] | None) -> str:
    """Root `user`, one `<results>` per user, tab indents, no final newline."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<user>"]
    parts.extend(_xml_element("results", user, 1) for user in users)
    if info is not None:
        parts.append(_xml_element("info", info, 1))
    parts.append("</user>")
    return "\n".join(parts)


def _xml_element(name: str, value: Any, depth: int) -> str:
    tabs = "\t" * depth
    if isinstance(value, dict):
        if not value:
            return f"{tabs}<{name}/>"
        children = "\n".join(_xml_element(k, v, depth + 1) for k, v in value.items())
        return f"{tabs}<{name}>\n{children}\n{tabs}</{name}>"
    text = "" if value is None else _xml_escape(_scalar_text(value))
    return f"{tabs}<{name}>{text}</{name}>"


def _xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )
