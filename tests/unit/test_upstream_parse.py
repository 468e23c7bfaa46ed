"""Lenient parsing of Randomuser responses: real samples and every failure shape."""

from __future__ import annotations

import time

import orjson
import pytest

from sync_worker.upstream import UpstreamError, parse_response
from tests.support.samples import sample_bytes

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=UTF-8"

CLOUDFLARE_502 = b"""<!DOCTYPE html>
<html lang="en-US"><head><title>randomuser.me | 502: Bad gateway</title></head>
<body><div id="cf-error-details"><h1>Bad gateway <span>Error code 502</span></h1>
<p>Cloudflare Ray ID: <strong class="font-semibold">56a51f591829d276</strong> &bull;
2020-02-24 23:12:06 UTC</p></div></body></html>"""

CLOUDFLARE_BLOCK = b"""<!DOCTYPE html><html><head>
<title>Attention Required! | Cloudflare</title></head><body>
<h1>Sorry, you have been blocked</h1><h2>You are unable to access randomuser.me</h2>
<span>Cloudflare Ray ID: <strong>7f1e2d3c4b5a6978</strong></span>
<span>Your IP: 203.0.113.9</span></body></html>"""

RATE_LIMIT = (
    b'{"error":"Whoa, ease up there cowboy. You\'ve requested 20000 users in the '
    b"last minute. Help us keep this service free and spare some bandwidth for "
    b'other users please :)"}'
)
GENERIC_ERROR = (
    b'{"error":"Uh oh, something has gone wrong. Please tweet us @randomapi '
    b'about the issue. Thank you."}'
)
PLACEHOLDER = (
    b'{"results":[],"info":{"seed":"d3adb33f","results":1,"page":1,"version":"1.4"}}'
)


def sample(name: str) -> bytes:
    return sample_bytes(name)


def failure(status: int, body: bytes, content_type: str | None = JSON) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        parse_response(status, content_type, body)
    return caught.value


def test_the_one_user_v14_sample_parses_into_one_raw_user():
    page = parse_response(
        200, JSON, sample("v1.4_seed-6786def1f7fa0850_results-1.json")
    )

    assert len(page.users) == 1
    assert page.users[0]["location"]["country"] == "Brazil"
    assert page.info is not None
    assert (page.info.seed, page.info.results, page.info.page, page.info.version) == (
        "6786def1f7fa0850",
        1,
        1,
        "1.4",
    )


def test_the_111_user_v14_sample_keeps_numeric_and_string_postcodes_and_null_ids():
    page = parse_response(
        200, JSON, sample("v1.4_seed-b92435b8050047da_results-111.json")
    )

    postcodes = [user["location"]["postcode"] for user in page.users]
    assert len(page.users) == 111
    assert sum(isinstance(code, int) for code in postcodes) == 89
    assert sum(isinstance(code, str) for code in postcodes) == 22
    assert sum(user["id"]["value"] is None for user in page.users) == 14
    assert {user["nat"] for user in page.users} >= {"IR", "FI", "NO", "GB", "US"}


def test_the_v13_samples_parse_whether_compact_or_pretty_with_a_leading_blank_line():
    compact = parse_response(
        200, JSON, sample("v1.3_seed-dca4d7167be9cb98_results-1_compact.json")
    )
    pretty = parse_response(
        200, JSON, sample("v1.3_seed-624b47c9006a7219_results-200_nat-us.json")
    )

    assert compact.users[0]["location"]["postcode"] == "K47 1GX"
    assert compact.info is not None
    assert compact.info.version == "1.3"
    assert len(pretty.users) == 200


def test_an_envelope_without_info_is_still_a_page():
    page = parse_response(200, JSON, b'{"results":[{"gender":"male"}]}')

    assert page.info is None
    assert page.users == [{"gender": "male"}]


def test_a_429_is_rate_limited_and_quotes_the_upstream_text():
    error = failure(429, RATE_LIMIT)

    assert error.kind == "rate_limited"
    assert "ease up there cowboy" in error.detail


def test_the_old_503_rate_limit_is_recognised_by_its_body():
    assert failure(503, RATE_LIMIT).kind == "rate_limited"


def test_the_documented_error_object_is_a_failure_even_with_status_200():
    error = failure(200, GENERIC_ERROR)

    assert error.kind == "error_object"
    assert "something has gone wrong" in error.detail


@pytest.mark.parametrize("status", [502, 503, 504, 520, 522, 524])
def test_a_cloudflare_error_page_names_its_status_title_and_ray_id(status):
    error = failure(status, CLOUDFLARE_502, HTML)

    assert error.kind == "http_error"
    assert error.status == status
    assert "502: Bad gateway" in error.detail
    assert "56a51f591829d276" in error.detail


def test_a_cloudflare_block_page_is_blocked():
    error = failure(403, CLOUDFLARE_BLOCK, HTML)

    assert error.kind == "blocked"
    assert "Attention Required" in error.detail
    assert "7f1e2d3c4b5a6978" in error.detail


def test_an_html_page_with_status_200_is_not_taken_for_data():
    assert failure(200, CLOUDFLARE_502, HTML).kind == "html"


def test_html_is_detected_even_when_labelled_json():
    assert failure(200, b"  <html><body>maintenance</body></html>", JSON).kind == "html"


def test_the_outage_placeholder_is_a_failure_not_an_empty_snapshot():
    error = failure(200, PLACEHOLDER)

    assert error.kind == "placeholder"


def test_empty_results_with_announced_users_is_a_failure():
    body = b'{"results":[],"info":{"seed":"abc","results":5,"page":1,"version":"1.4"}}'

    error = failure(200, body)

    assert error.kind == "empty_results"
    assert "5" in error.detail


def test_a_body_cut_mid_document_is_truncated():
    whole = sample("v1.4_seed-b92435b8050047da_results-111.json")

    assert failure(200, whole[: len(whole) // 2]).kind == "truncated"


def test_a_body_cut_right_after_a_brace_among_non_latin_names_is_truncated():
    # Seen in CI: the sample's Persian and other non-ASCII names make orjson's
    # character position fall short of the byte length, and a cut after a
    # nested "}" ends the body with a brace; it is still a cut, not bad JSON.
    whole = sample("v1.4_seed-b92435b8050047da_results-111.json")
    assert max(whole) > 0x7F, "the sample has non-ASCII characters"
    half = whole[: len(whole) // 2]
    cut = half[: half.rindex(b"}") + 1]

    assert failure(200, cut).kind == "truncated"


def test_an_empty_body_is_a_failure():
    assert failure(200, b"").kind == "empty_body"
    assert failure(200, b" \n").kind == "empty_body"


def test_garbage_that_is_not_json_is_named_so():
    assert failure(200, b"Internal Server Error", "text/plain").kind == "not_json"


def test_not_found_is_its_own_kind():
    error = failure(404, b"Not Found", "text/plain; charset=utf-8")

    assert error.kind == "not_found"
    assert "RANDOMUSER_URL" in error.detail


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'"text"', b'{"results": {"a": 1}}', b'{"info": {}}', b"null"],
)
def test_json_of_another_shape_is_a_bad_shape(body):
    assert failure(200, body).kind == "bad_shape"


def test_an_error_object_with_an_error_status_keeps_the_status():
    error = failure(500, GENERIC_ERROR)

    assert error.kind == "error_object"
    assert error.status == 500
    assert error.detail.startswith("HTTP 500: Uh oh")


def test_a_framework_500_in_plain_text_is_an_http_error():
    error = failure(500, b"Internal Server Error", "text/plain")

    assert error.kind == "http_error"
    assert "Internal Server Error" in error.detail


def test_failure_details_from_a_hostile_server_are_short_and_printable():
    body = orjson.dumps({"error": "x\x00\x1b[31m" + "y" * 5000})

    detail = failure(200, body).detail

    assert len(detail) <= 200
    assert detail.isprintable()


@pytest.mark.parametrize(
    "body",
    [
        b"<html><title " * 40_000,
        b"<title" + b"<a " * 3_000_000,
        b"<html>" + b"Ray ID: <b " * 500_000,
    ],
    ids=["unterminated_title_480kb", "unterminated_tags_9mb", "ray_id_prefixes"],
)
def test_an_error_page_of_unterminated_tags_is_described_in_linear_time(body):
    started = time.perf_counter()

    with pytest.raises(UpstreamError) as error:
        parse_response(502, "text/html", body)

    assert error.value.kind == "http_error"
    # A complexity check, not a speed goal: the quadratic scan it replaced took
    # 30 s on the first body; linear work takes milliseconds even on a busy machine.
    assert time.perf_counter() - started < 1.0


def test_a_title_is_still_found_in_the_first_few_kb():
    body = b"<html><head><title>Service down</title></head>" + b"x" * 1_000_000

    with pytest.raises(UpstreamError, match="Service down"):
        parse_response(503, "text/html", body)
