"""Canned responses: origin errors and Cloudflare's pages (sections 5, 6, 9)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Final

import orjson
from aiohttp import web

from randomuser_sim.render import JSON_TYPE

ORIGIN_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "no-cache",
    "X-Powered-By": "Express",
    "Vary": "Accept-Encoding",
}
_TEXT_TYPE: Final = "text/plain; charset=utf-8"
_HTML_TYPE: Final = "text/html; charset=UTF-8"
GENERIC_ERROR: Final = (
    "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. "
    "Thank you."
)
PLACEHOLDER: Final = (
    b'{"results":[],"info":{"seed":"d3adb33f","results":1,"page":1,"version":"1.4"}}'
)
_CLOUDFLARE_TITLES: Final = {
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway time-out",
    520: "Web server is returning an unknown error",
}


def origin(status: int, body: bytes, content_type: str) -> web.Response:
    """A response as the Express application sends it, CORS header included."""
    return web.Response(
        status=status,
        body=body,
        headers={**ORIGIN_HEADERS, "Content-Type": content_type},
    )


def not_found() -> web.Response:
    """Express's 404 for an unknown version, path or method."""
    return origin(404, b"Not Found", _TEXT_TYPE)


def internal_error() -> web.Response:
    """Express's default 500."""
    return origin(500, b"Internal Server Error", _TEXT_TYPE)


def rate_limited(count: int, status: int = 429) -> web.Response:
    """The rate-limit refusal; 503 was its status before 2020-08."""
    message = (
        f"Whoa, ease up there cowboy. You've requested {count} users in the last "
        "minute. Help us keep this service free and spare some bandwidth for other "
        "users please :)"
    )
    return origin(status, orjson.dumps({"error": message}), JSON_TYPE)


def error_json() -> web.Response:
    """The only documented error object (5.5); its status is undocumented, 500 here."""
    return origin(500, orjson.dumps({"error": GENERIC_ERROR}), JSON_TYPE)


def cloudflare_error(status: int, ray_id: str) -> web.Response:
    """Cloudflare's HTML page for a failing origin: no CORS header, `cf-ray` set."""
    title = _CLOUDFLARE_TITLES[status]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    page = f"""<!DOCTYPE html>
<html class="no-js" lang="en-US">
<head>
<title>randomuser.me | {status}: {title}</title>
<meta charset="UTF-8" />
<meta name="robots" content="noindex, nofollow" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
      <h1><span class="inline-block">{title}</span>
        <span class="code-label">Error code {status}</span></h1>
      <div>Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_{status}&amp;utm_campaign=randomuser.me">cloudflare.com</a> for more information.</div>
      <div class="mt-3">{stamp} UTC</div>
    </header>
    <div class="cf-error-footer">
      <p>
        <span class="cf-footer-item">Cloudflare Ray ID: <strong>{ray_id}</strong></span>
        <span class="cf-footer-separator">&bull;</span>
        <span class="cf-footer-item">Performance &amp; security by Cloudflare</span>
      </p>
    </div>
  </div>
</div>
</body>
</html>
"""
    return _cloudflare(status, page, ray_id)


def cloudflare_block(ray_id: str, client_ip: str) -> web.Response:
    """Cloudflare's 403 "Sorry, you have been blocked" page (cloud and hosting IPs)."""
    page = f"""<!DOCTYPE html>
<html class="no-js" lang="en-US">
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="cf-error-details-wrapper">
    <div class="cf-wrapper cf-header cf-error-overview">
      <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
      <h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to access</span> randomuser.me</h2>
    </div>
    <div class="cf-section cf-wrapper">
      <h2 data-translate="blocked_why_headline">Why have I been blocked?</h2>
      <p data-translate="blocked_why_detail">This website is using a security service to protect itself from online attacks.</p>
    </div>
    <div class="cf-error-footer cf-wrapper">
      <p>
        <span class="cf-footer-item">Cloudflare Ray ID: <strong>{ray_id}</strong></span>
        <span class="cf-footer-separator">&bull;</span>
        <span class="cf-footer-item">Your IP: {html.escape(client_ip)}</span>
      </p>
    </div>
  </div>
</div>
</body>
</html>
"""
    return _cloudflare(403, page, ray_id)


def _cloudflare(status: int, page: str, ray_id: str) -> web.Response:
    return web.Response(
        status=status,
        reason=_CLOUDFLARE_TITLES.get(status, "Forbidden"),
        body=page.encode(),
        headers={
            "Content-Type": _HTML_TYPE,
            "Server": "cloudflare",
            "CF-RAY": f"{ray_id}-FRA",
            "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate",
            "X-Frame-Options": "SAMEORIGIN",
            "Referrer-Policy": "same-origin",
        },
    )
