#!/usr/bin/env python3
"""Container health probe: GET the service's health endpoint, exit 0 when it answers 2xx.

The slim Python image has no curl, so the image's HEALTHCHECK runs this
script (installed as /usr/local/bin/container-healthcheck). It uses only the
standard library and never imports the service.

Target, first match wins:
  HEALTHCHECK_URL            a full URL (e.g. the simulator's /api/?results=1)
  HEALTH_PORT, else HTTP_PORT  → http://127.0.0.1:<port><HEALTHCHECK_PATH>
HEALTHCHECK_PATH defaults to /readyz (ready: its dependencies answer);
set it to /healthz to probe liveness only.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def target_url(env: dict[str, str]) -> str | None:
    """The URL to probe, from the environment, or None when nothing names it."""
    if env.get("HEALTHCHECK_URL"):
        return env["HEALTHCHECK_URL"]
    port = env.get("HEALTH_PORT") or env.get("HTTP_PORT")
    if not port:
        return None
    path = env.get("HEALTHCHECK_PATH") or "/readyz"
    return f"http://127.0.0.1:{port}{path}"


def main() -> int:
    """Probe once; 0 healthy, 1 not."""
    url = target_url(dict(os.environ))
    if url is None:
        sys.stderr.write("healthcheck: set HEALTHCHECK_URL, HEALTH_PORT or HTTP_PORT\n")
        return 1
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT_SECONDS") or "3")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local http URL from our own env
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"healthcheck: {url}: {exc}\n")
        return 1
    if 200 <= status < 300:
        return 0
    sys.stderr.write(f"healthcheck: {url}: HTTP {status}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
