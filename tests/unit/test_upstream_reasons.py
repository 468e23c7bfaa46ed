"""Every failure shape of an upstream response, with the exact reason an
operator reads in sync-status: its kind, its words and its HTTP status.

The expected reasons are written out by hand from the upstream's failure
shapes (tests/fixtures/randomuser/FAILURES.md, copied from the project's
specification with its sources), not computed."""

from __future__ import annotations

import pytest

from sync_worker.upstream import UpstreamError, UpstreamInfo, parse_response

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=UTF-8"
COWBOY = b'{"error":"Uh oh, something has gone wrong. Please tell us... ease up there cowboy"}'
CLOUDFLARE = (
    b"<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title>"
    b"</head><body>Ray ID: <strong>7f1a2b3c4d5e6f70</strong></body></html>"
)
BIG_ERROR = b'{"error":"' + b"x" * (65_536 - 12) + b'"}'


@pytest.mark.parametrize(
    ("status", "content_type", "body", "kind", "detail", "http_status"),
    [
        (429, JSON, b'{"error":"slow"}', "rate_limited", "HTTP 429: slow", 429),
        (429, None, b"slow down", "rate_limited", "HTTP 429: 'slow down'", 429),
        (404, None, b"Not here", "not_found",
         "HTTP 404 ('Not here'): is RANDOMUSER_URL right?", 404),
        (404, None, b"\xff\xfe", "not_found",
         "HTTP 404 ('\ufffd\ufffd'): is RANDOMUSER_URL right?", 404),
        (403, HTML, CLOUDFLARE, "blocked",
         "HTTP 403: HTML page 'Attention Required! | Cloudflare'"
         " (Cloudflare Ray ID 7f1a2b3c4d5e6f70)", 403),
        (403, None, b"  ", "blocked", "HTTP 403: empty body", 403),
        (503, JSON, COWBOY, "rate_limited",
         "HTTP 503: Uh oh, something has gone wrong. Please tell us... ease up there"
         " cowboy", 503),
        (500, JSON, b'{"error":"a\\u0000b\\nc"}', "error_object", "HTTP 500: a b c", 500),
        (500, JSON, b'{"error":"' + b"a" * 200 + b'"}', "error_object",
         "HTTP 500: " + "a" * 200, 500),
        (500, JSON, b'{"error":"' + b"b" * 201 + b'"}', "error_object",
         "HTTP 500: " + "b" * 199 + "\u2026", 500),
        (500, JSON, b'{"error":"' + b" " * 900 + b'tail"}', "error_object",
         "HTTP 500: ", 500),
        (500, JSON, BIG_ERROR, "error_object", "HTTP 500: " + "x" * 199 + "\u2026", 500),
        (500, JSON, BIG_ERROR[:-2] + b'x"}', "http_error",
         "HTTP 500: " + repr("{\"error\":\"" + "x" * 190), 500),
        (500, JSON, b'["error"]', "http_error", "HTTP 500: '[\"error\"]'", 500),
        (502, HTML, b"<html><title>502 Bad Gateway</title></html>", "http_error",
         "HTTP 502: HTML page '502 Bad Gateway'", 502),
        (300, None, b"moved", "http_error", "HTTP 300: 'moved'", 300),
        (200, JSON, b"  \n", "empty_body", "HTTP 200 with an empty body", None),
        (200, HTML, b'{"results": []}', "html", "HTTP 200: HTML page", None),
        (200, None, b"<title>Down</title>", "html", "HTTP 200: HTML page 'Down'", None),
        (200, None, b"<html><TITLE id=t>Maint<b>en</b>ance</TITLE>", "html",
         "HTTP 200: HTML page 'Maint en ance'", None),
        (200, None, b"<title>First</title><svg><title>Icon</title></svg>", "html",
         "HTTP 200: HTML page 'First'", None),
        (200, None, b"<html><title>never closed", "html", "HTTP 200: HTML page", None),
        (200, HTML, b"x > y <title>T</title>", "html", "HTTP 200: HTML page 'T'", None),
        (200, None, b"</title><title>T</title>", "html", "HTTP 200: HTML page 'T'", None),
        (200, None, b"<title>\xff</title>", "html", "HTTP 200: HTML page '\ufffd'", None),
        (200, None, b'{"results": [1] oops', "truncated",
         "JSON ends early after 20 bytes", None),
        (200, None, b"<html><title", "html", "HTTP 200: HTML page", None),
        (200, None, b'{"results": [1, 2', "truncated", "JSON ends early after 17 bytes",
         None),
        (200, None, b"[1]", "bad_shape", "body is a JSON list", None),
        (200, None, b'{"info": {}}', "bad_shape", "`results` is missing or not a list",
         None),
        (200, None, COWBOY, "rate_limited",
         "Uh oh, something has gone wrong. Please tell us... ease up there cowboy", None),
        (200, None, b'{"error": "Nope"}', "error_object", "Nope", None),
        (200, None, b'{"results": [], "info": {"seed": "d3adb33f"}}', "placeholder",
         "the fixed outage body (seed d3adb33f, no users)", None),
        (200, None, b'{"results": [], "info": {"results": 5}}', "empty_results",
         "`results` is empty although info.results is 5", None),
        (200, None, b'{"results": []}', "empty_results",
         "`results` is empty although info.results is None", None),
    ],
)  # fmt: skip
def test_each_failure_has_its_kind_words_and_status(
    status: int,
    content_type: str | None,
    body: bytes,
    kind: str,
    detail: str,
    http_status: int | None,
) -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_response(status, content_type, body)

    assert (raised.value.kind, raised.value.detail, raised.value.status) == (
        kind,
        detail,
        http_status,
    )


def test_invalid_json_names_the_parser_s_complaint() -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_response(200, JSON, b"nope")

    assert raised.value.kind == "not_json"
    assert raised.value.detail.startswith("invalid JSON: ")
    assert "line 1 column 1" in raised.value.detail


def test_an_object_that_ends_with_its_brace_is_invalid_not_cut() -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_response(200, JSON, b'{"a" 1}')

    assert raised.value.kind == "not_json"


def test_info_fields_of_the_wrong_type_are_left_out() -> None:
    body = (
        b'{"results": [{"name": 1}],'
        b' "info": {"seed": 5, "results": "10", "page": "1", "version": 1.0}}'
    )

    page = parse_response(200, JSON, body)

    assert page.info == UpstreamInfo(seed=None, results=None, page=None, version=None)
    assert page.users == [{"name": 1}]


def test_a_page_without_info_is_still_a_page() -> None:
    page = parse_response(200, None, b'{"results": [{"name": 1}]}')

    assert page.info is None
