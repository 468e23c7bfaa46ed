"""HTTPS at the local gateway (make run TLS=1) with real TLS clients and Chromium."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest
from playwright.async_api import expect

from devstack.readiness import free_port
from devstack.stack import Stack
from devstack.tls import ensure_certificate
from tests.support.browser import chromium, record_problems

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.conftest import StackClient


@dataclasses.dataclass(frozen=True)
class TlsGateway:
    https_url: str
    http_url: str
    certificate: Path


@pytest.fixture(scope="module")
def tls_gateway(stack: StackClient) -> Iterator[TlsGateway]:
    """A second local nginx, rendered with TLS on, in front of the e2e stack."""
    with tempfile.TemporaryDirectory(prefix="e2e-tls-") as tmp:
        config = dataclasses.replace(
            stack.stack.config,
            run_dir=Path(tmp),
            http_port=free_port(),
            https_port=free_port(),
            nginx_cache_dir=None,
        )
        gateway = Stack(config)
        gateway.start_nginx()
        try:
            yield TlsGateway(
                https_url=gateway.base_url,
                http_url=f"http://127.0.0.1:{config.http_port}",
                certificate=Path(tmp) / "tls" / "localhost.crt",
            )
        finally:
            gateway.stop()


def trusting(certificate: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate))


async def test_https_serves_the_api_with_hsts_to_a_verifying_client(
    tls_gateway: TlsGateway,
):
    connector = aiohttp.TCPConnector(ssl=trusting(tls_gateway.certificate))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(
            f"{tls_gateway.https_url}/queries/countries"
        ) as response:
            assert response.status == 200
            assert "countries" in await response.json()
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        async with session.post(f"{tls_gateway.https_url}/commands/sync") as response:
            assert response.status == 401
            assert "Strict-Transport-Security" in response.headers


async def test_a_client_that_does_not_trust_the_certificate_is_refused(
    tls_gateway: TlsGateway,
):
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"{tls_gateway.https_url}/queries/countries")


async def test_plain_http_redirects_to_https(tls_gateway: TlsGateway):
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{tls_gateway.http_url}/queries/countries?x=1", allow_redirects=False
        ) as response:
            assert response.status == 308
            port = tls_gateway.https_url.rsplit(":", 1)[1]
            assert response.headers["Location"] == (
                f"https://127.0.0.1:{port}/queries/countries?x=1"
            )
        async with session.get(f"{tls_gateway.http_url}/nginx-health") as response:
            assert response.status == 200


def test_only_tls_1_2_and_1_3_are_offered(tls_gateway: TlsGateway):
    host_port = tls_gateway.https_url.removeprefix("https://")
    for flag, accepted in (("-tls1_3", True), ("-tls1_2", True), ("-tls1_1", False)):
        result = subprocess.run(
            ["openssl", "s_client", "-connect", host_port, flag,
             "-CAfile", str(tls_gateway.certificate), "-verify_return_error",
             "-servername", "localhost"],
            input="", capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        assert (result.returncode == 0) == accepted, (flag, result.stderr[-500:])
        if accepted:
            assert "Verify return code: 0 (ok)" in result.stdout


def test_the_certificate_is_reused_while_valid(tmp_path: Path):
    first = ensure_certificate(tmp_path)
    made = first[0].read_bytes()
    assert ensure_certificate(tmp_path) == first
    assert first[0].read_bytes() == made
    assert first[1].stat().st_mode & 0o077 == 0, "the key is private"


def spki_hash(certificate: Path) -> str:
    """What Chromium's --ignore-certificate-errors-spki-list names: this key only."""
    der = ssl.PEM_cert_to_DER_cert(certificate.read_text())
    key = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-pubkey", "-noout"],
        input=der, capture_output=True, check=True,
    ).stdout  # fmt: skip
    spki = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=key, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


async def test_chromium_loads_the_dashboard_over_https(tls_gateway: TlsGateway):
    problems: list[str] = []
    trust = (
        f"--ignore-certificate-errors-spki-list={spki_hash(tls_gateway.certificate)}"
    )
    async with chromium([trust]) as browser:
        page = await browser.new_page()
        record_problems(page, problems)
        response = await page.goto(f"{tls_gateway.http_url}/")
        assert response is not None
        assert page.url.startswith(tls_gateway.https_url), page.url
        assert response.status == 200
        await expect(page.locator("#country")).to_be_attached()
    assert problems == [], "\n".join(problems)
