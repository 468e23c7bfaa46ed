"""The CLI's HTTP side: `sync` and `status` through the connector's API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

if TYPE_CHECKING:
    from collections.abc import Sequence

    from connector_cli.settings import CliSettings


class ApiError(Exception):
    """The API refused the request or could not be reached; `str()` says why."""


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """What `sync` asks for; None leaves the service's default."""

    results: int | None = None
    nationalities: tuple[str, ...] | None = None
    seed: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body of POST /commands/sync: only the options given."""
        body: dict[str, Any] = {}
        if self.results is not None:
            body["results"] = self.results
        if self.nationalities:
            body["nationalities"] = list(self.nationalities)
        if self.seed is not None:
            body["seed"] = self.seed
        return body


async def request_sync(settings: CliSettings, options: SyncOptions) -> dict[str, Any]:
    """POST /commands/sync; the 202 body.

    Raises:
        ApiError: any other answer (its problem detail), or no answer.
    """
    headers = {"Content-Type": "application/json"}
    if settings.command_token is not None:
        headers["Authorization"] = f"Bearer {settings.command_token.get_secret_value()}"
    return await _call(
        settings,
        "POST",
        "/commands/sync",
        expect=202,
        headers=headers,
        data=orjson.dumps(options.body()),
    )


async def sync_status(settings: CliSettings) -> dict[str, Any]:
    """GET /queries/sync-status.

    Raises:
        ApiError: any answer but 200, or no answer.
    """
    return await _call(settings, "GET", "/queries/sync-status", expect=200)


async def _call(
    settings: CliSettings, method: str, path: str, *, expect: int, **kwargs: Any
) -> dict[str, Any]:
    url = f"{settings.base_url}{path}"
    timeout = aiohttp.ClientTimeout(total=settings.connector_timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, url, **kwargs) as response,
        ):
            raw = await response.read()
            if response.status != expect:
                raise ApiError(_describe_error(method, url, response.status, raw))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ApiError(f"{method} {url}: no answer ({exc!r})") from None
    body = orjson.loads(raw)
    if not isinstance(body, dict):
        raise ApiError(f"{method} {url}: unexpected body {raw[:200]!r}")
    return body


def _describe_error(method: str, url: str, status: int, raw: bytes) -> str:
    try:
        problem = orjson.loads(raw)
    except orjson.JSONDecodeError:
        problem = None
    if isinstance(problem, dict) and "detail" in problem:
        return (
            f"{method} {url}: {status} {problem.get('title', '')}: {problem['detail']}"
        )
    return f"{method} {url}: {status} {raw[:200].decode(errors='replace')}"


def format_accepted(body: dict[str, Any]) -> str:
    """What `sync` prints for a 202."""
    lines = [
        f"Sync accepted: command {body['command_id']} ({body['results']:,} users).",
        f"Correlation id {body['correlation_id']} follows it through the logs.",
        "Follow it with: randomuser-connector status",
    ]
    return "\n".join(lines)


def format_status(body: dict[str, Any]) -> str:
    """GET /queries/sync-status as a few readable lines and a table of attempts."""
    lines = [f"Current snapshot  {_snapshot(body.get('current_snapshot'))}"]
    success = body.get("last_success")
    lines.append(
        "Last success      "
        + (
            f"{success['sync_id']} at {_when(success.get('promoted_at'))}"
            f" ({_count(success.get('user_count'))} users,"
            f" {_count(success.get('dropped_count'))} dropped)"
            if success
            else "none yet"
        )
    )
    attempt = body.get("last_attempt")
    lines.append(
        "Last attempt      "
        + (
            f"{attempt['sync_id']} {attempt['state']}"
            f" (first seen {_when(attempt.get('first_seen_at'))})"
            if attempt
            else "none yet"
        )
    )
    failure = body.get("last_failure")
    lines.append(
        "Last failure      "
        + (
            f"{failure['sync_id']} at {_when(failure.get('failed_at'))}"
            f" after {failure.get('attempts') or '?'} attempts: {failure.get('reason')}"
            if failure
            else "none"
        )
    )
    dead = body.get("dead_lettered", 0)
    last_dead = body.get("last_dead_letter")
    lines.append(
        f"Dead letters      {dead:,}"
        + (
            f" (last: {last_dead.get('message_type')} {last_dead.get('message_id')}"
            f" at {_when(last_dead.get('at'))}: {last_dead.get('reason')})"
            if last_dead
            else ""
        )
    )
    recent = body.get("recent") or []
    if recent:
        lines += ["", "Recent attempts (newest first):"]
        rows = [("STATE", "SYNC ID", "USERS", "FIRST SEEN", "COMMAND")]
        rows += [
            (
                str(r["state"]),
                str(r["sync_id"]),
                _count(r.get("user_count")),
                _when(r.get("first_seen_at")),
                str(r.get("command_id") or "-"),
            )
            for r in recent
        ]
        lines += table(rows)
    return "\n".join(lines)


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as left-aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def _snapshot(snapshot: dict[str, Any] | None) -> str:
    if not snapshot:
        return "none yet (no sync has been promoted)"
    return (
        f"{snapshot['id']}: {snapshot['user_count']:,} users in"
        f" {snapshot['country_count']:,} countries, synced {_when(snapshot['synced_at'])}"
    )


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _when(value: object) -> str:
    # ISO 8601 from the API; seconds are precise enough for a person.
    if not isinstance(value, str):
        return "-"
    return value.replace("T", " ")[:19] + " UTC"
