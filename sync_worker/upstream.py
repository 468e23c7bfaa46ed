"""Lenient parsing of Randomuser responses: a page of raw users, or a named failure.

Upstream data is not a contract. This module only decides whether a response
is a usable page (a JSON envelope with a non-empty `results` list) and, when
it is not, which of the known failure shapes it is (RANDOMUSER-API.md 9.1).
Each user stays raw here; `validation.py` maps users strictly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from contracts.events import UpstreamAnswerKind

PLACEHOLDER_SEED: Final = "d3adb33f"
"""Seed of the fixed body served for every URL during the 2026 outage."""

_RATE_LIMIT_TEXT: Final = "ease up there cowboy"
_INSPECT_BYTES: Final = 4096
"""How much of an error page is looked at: its title and Ray ID come early, and
anything bounded keeps a hostile page (an unterminated tag over megabytes)
from costing more than microseconds."""
_ERROR_OBJECT_BYTES: Final = 65_536
_TAGS: Final = re.compile(r"<[^>]*>")
_RAY_ID: Final = re.compile(rb"Ray ID:?\s*(?:<[^>]*>\s*)*([0-9a-f]{8,20})", re.I)
_DETAIL_LIMIT: Final = 200


class UpstreamError(Exception):
    """The response is not a usable page of users."""

    def __init__(
        self, kind: UpstreamAnswerKind, detail: str, *, status: int | None = None
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: UpstreamAnswerKind = kind
        self.detail = detail
        self.status = status


@dataclass(frozen=True, slots=True)
class UpstreamInfo:
    """The `info` object of an envelope, as far as it could be read."""

    seed: str | None
    results: int | None
    page: float | None
    version: str | None


@dataclass(frozen=True, slots=True)
class UpstreamPage:
    """One response's raw users, in upstream order, and its `info`."""

    users: list[Any]
    info: UpstreamInfo | None


def parse_response(status: int, content_type: str | None, body: bytes) -> UpstreamPage:
    """Turn one HTTP response into a page of raw users.

    Never returns an empty page: an empty `results` list is a failure, never
    an empty snapshot.

    Raises:
        UpstreamError: the response is one of the known failure shapes, or
            anything else that is not a JSON envelope with users.
    """
    if status == 429:
        raise UpstreamError(
            "rate_limited", f"HTTP 429: {_error_text(body)}", status=status
        )
    if status == 404:
        raise UpstreamError(
            "not_found",
            f"HTTP 404 ({_snippet(body)}): is RANDOMUSER_URL right?",
            status=status,
        )
    if status == 403:
        raise UpstreamError(
            "blocked", f"HTTP 403: {_describe_body(body)}", status=status
        )
    if not 200 <= status < 300:
        if (error := _error_object(body)) is not None:
            # Before 2020-08 the rate limit answered 503 with the same JSON body.
            kind: UpstreamAnswerKind = (
                "rate_limited" if _RATE_LIMIT_TEXT in error else "error_object"
            )
            raise UpstreamError(kind, f"HTTP {status}: {error}", status=status)
        raise UpstreamError(
            "http_error", f"HTTP {status}: {_describe_body(body)}", status=status
        )
    stripped = body.strip()
    if not stripped:
        raise UpstreamError("empty_body", f"HTTP {status} with an empty body")
    if _looks_like_html(content_type, stripped):
        raise UpstreamError("html", f"HTTP {status}: {_describe_html(stripped)}")
    try:
        data = orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        # A JSON object that does not end with "}" was cut short, and so is
        # one whose parse ran out of data: a cut may fall right after a
        # nested "}" (orjson's position counts characters, not bytes, so it
        # cannot be compared with the body's length).
        cut = stripped[:1] == b"{" and stripped[-1:] != b"}"
        if cut or exc.msg.startswith("unexpected end of data"):
            raise UpstreamError(
                "truncated", f"JSON ends early after {len(body)} bytes"
            ) from exc
        raise UpstreamError("not_json", f"invalid JSON: {exc}") from exc
    return _parse_envelope(data)


def _parse_envelope(data: Any) -> UpstreamPage:
    if not isinstance(data, dict):
        raise UpstreamError("bad_shape", f"body is a JSON {type(data).__name__}")
    if "error" in data:
        text = _clean(str(data["error"]))
        kind: UpstreamAnswerKind = (
            "rate_limited" if _RATE_LIMIT_TEXT in text else "error_object"
        )
        raise UpstreamError(kind, text)
    info = _parse_info(data.get("info"))
    users = data.get("results")
    if not isinstance(users, list):
        raise UpstreamError("bad_shape", "`results` is missing or not a list")
    if not users:
        if info is not None and info.seed == PLACEHOLDER_SEED:
            raise UpstreamError(
                "placeholder", "the fixed outage body (seed d3adb33f, no users)"
            )
        announced = info.results if info is not None else None
        raise UpstreamError(
            "empty_results", f"`results` is empty although info.results is {announced}"
        )
    return UpstreamPage(users=users, info=info)


def _parse_info(raw: Any) -> UpstreamInfo | None:
    if not isinstance(raw, dict):
        return None
    seed, results, page, version = (
        raw.get(key) for key in ("seed", "results", "page", "version")
    )
    return UpstreamInfo(
        seed=seed if isinstance(seed, str) else None,
        results=results if type(results) is int else None,
        page=page if type(page) in (int, float) else None,
        version=version if isinstance(version, str) else None,
    )


def _looks_like_html(content_type: str | None, body: bytes) -> bool:
    if content_type is not None and "html" in content_type.lower():
        return True
    return body[:1] == b"<"


def _describe_body(body: bytes) -> str:
    stripped = body.strip()
    if not stripped:
        return "empty body"
    if stripped[:1] == b"<":
        return _describe_html(stripped)
    return _error_text(stripped)


def _describe_html(body: bytes) -> str:
    """Name an HTML page by its title and Cloudflare Ray ID, when it has them.

    Looks at the first `_INSPECT_BYTES` only, with linear scans.
    """
    head = body[:_INSPECT_BYTES]
    title = _TAGS.sub(" ", _title(head).decode("utf-8", "replace"))
    described = f"HTML page {_clean(title)!r}" if title.strip() else "HTML page"
    if ray := _RAY_ID.search(head):
        described += f" (Cloudflare Ray ID {ray.group(1).decode('ascii')})"
    return described


def _title(head: bytes) -> bytes:
    """The text between `<title ...>` and `</title>`, or b"" (linear: finds only)."""
    lowered = head.lower()
    start = lowered.find(b"<title")
    if start < 0:
        return b""
    open_end = lowered.find(b">", start)
    if open_end < 0:
        return b""
    close = lowered.find(b"</title>", open_end)
    return head[open_end + 1 : close] if close >= 0 else b""


def _error_text(body: bytes) -> str:
    """The `error` text of a JSON error object, else the start of the body."""
    error = _error_object(body)
    return error if error is not None else _snippet(body)


def _error_object(body: bytes) -> str | None:
    """The cleaned `error` text when `body` is a JSON `{"error": ...}` object."""
    if len(body) > _ERROR_OBJECT_BYTES:
        # Upstream's error objects are one short sentence; a large body on an
        # error status is not one, and parsing it would only cost time.
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and "error" in data:
        return _clean(str(data["error"]))
    return None


def _snippet(body: bytes) -> str:
    return repr(_clean(body[:_DETAIL_LIMIT].decode("utf-8", "replace")))


def _clean(text: str) -> str:
    """Make untrusted text safe for a log line or a failure reason: printable, short."""
    # Cut first: the work below is per character, and the text may be megabytes.
    text = text[: _DETAIL_LIMIT * 4]
    printable = "".join(
        char if unicodedata.category(char)[0] != "C" else " " for char in text
    )
    collapsed = " ".join(printable.split())
    if len(collapsed) > _DETAIL_LIMIT:
        return collapsed[: _DETAIL_LIMIT - 1] + "…"
    return collapsed
