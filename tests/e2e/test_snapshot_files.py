"""nginx serves the current snapshot from the projector's files: the same bytes
and validators as the replicas, switched at promotion, and the replicas behind
it when no file is there."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import orjson

from tests.e2e.test_live_events import events

if TYPE_CHECKING:
    from multidict import CIMultiDict

    from tests.e2e.conftest import StackClient


async def _get(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDict[str], bytes]:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(url, headers=headers or {}) as response,
    ):
        return response.status, response.headers.copy(), await response.read()


def _snapshot_id(headers: CIMultiDict[str], data: bytes) -> str:
    if headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return str(orjson.loads(data)["snapshot"]["id"])


def _nginx_tag(path: Path) -> str:
    """nginx's ETag of a file: its mtime and size in hex (ngx_http_set_etag)."""
    stat = path.stat()
    return f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'


async def test_nginx_serves_the_snapshot_files_as_the_replicas_serve_them(
    stack: StackClient,
) -> None:
    body = await stack.sync(results=120, seed="files-bytes")
    snapshot = body["snapshot"]["id"]
    files = stack.stack.config.snapshot_files_dir
    assert files is not None
    for path, name in (
        ("/queries/countries", "countries.json"),
        ("/queries/countries/names", "names.json"),
    ):
        for encoding in ("identity", "gzip"):
            headers = {"Accept-Encoding": encoding}
            status, got, data = await _get(f"{stack.base_url}{path}", headers)
            _, replica, expected = await _get(f"{stack.replica_urls[0]}{path}", headers)
            assert status == 200, (path, encoding)
            assert got["X-Cache"] == "FILE", (path, got)
            assert _snapshot_id(got, data) == snapshot
            # nginx's own tag of the file it sent, which the replica gives the
            # same bytes: the .gz twin's for gzip; nginx weakens the tag of
            # what it compresses on the fly (names).
            served = files / "current" / name
            if got.get("Content-Encoding") == "gzip" and replica.get(
                "Content-Encoding"
            ):
                served = served.with_suffix(".json.gz")
            tag = _nginx_tag(served)
            assert got["ETag"].removeprefix("W/") == replica["ETag"] == tag
            assert "Last-Modified" not in got
            assert got["Content-Type"].startswith("application/json")
            assert "must-revalidate" in got["Cache-Control"]
            assert "default-src 'none'" in got["Content-Security-Policy"]
            assert got["X-Request-ID"]
            if got.get("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            if replica.get("Content-Encoding") == "gzip":
                expected = gzip.decompress(expected)
            assert data == expected, (path, encoding)
            revalidated = {**headers, "If-None-Match": got["ETag"]}
            status, again, data = await _get(f"{stack.base_url}{path}", revalidated)
            assert (status, data) == (304, b""), (path, encoding)
            assert again["ETag"].removeprefix("W/") == tag
            # The replica honours the tag nginx gave.
            status, _, _ = await _get(f"{stack.replica_urls[0]}{path}", revalidated)
            assert status == 304, (path, encoding)
        # The gzip body is the precomputed one, served as a file.
        if path == "/queries/countries":
            _, got, _ = await _get(
                f"{stack.base_url}{path}", {"Accept-Encoding": "gzip"}
            )
            assert got["Content-Encoding"] == "gzip"
            assert "Accept-Encoding" in got["Vary"]
        # A date is no validator of these files: the tag decides.
        status, _, _ = await _get(
            f"{stack.base_url}{path}",
            {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        )
        assert status == 200, path


async def test_a_promoted_snapshot_is_served_from_files_when_its_event_arrives(
    stack: StackClient,
) -> None:
    async with events(stack.base_url) as stream:
        command = await stack.trigger(results=30, seed="files-switch")
        attempt = await stack.attempt_of(command)
        await stream.snapshot(attempt["sync_id"])
        # A plain reader (no revalidation) right after the event.
        status, got, data = await _get(f"{stack.base_url}/queries/countries")
    assert status == 200
    assert got["X-Cache"] == "FILE"
    assert _snapshot_id(got, data) == attempt["sync_id"]


async def test_without_the_files_the_replicas_answer(stack: StackClient) -> None:
    body = await stack.sync(results=20, seed="files-fallback")
    files = stack.stack.config.snapshot_files_dir
    assert files is not None
    current = files / "current"
    target = current.readlink()
    current.unlink()
    try:
        status, got, data = await _get(f"{stack.base_url}/queries/countries")
        assert status == 200
        assert got.get("X-Cache") != "FILE"
        assert _snapshot_id(got, data) == body["snapshot"]["id"]
    finally:
        current.symlink_to(Path(target))
