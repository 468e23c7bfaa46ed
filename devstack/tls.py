"""HTTPS of the local gateway: a generated local certificate, and a probe that trusts it."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Final

from devstack.gateway_values import LocalTls

if TYPE_CHECKING:
    from pathlib import Path

CERTIFICATE: Final = "localhost.crt"
KEY: Final = "localhost.key"
DAYS: Final = 30


class TlsError(RuntimeError):
    """The local certificate could not be made."""


def ensure_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 in `directory`.

    Reused while it is valid for another day; otherwise made anew with the
    openssl CLI (an ECDSA P-256 key, readable by its owner only). Clients
    trust it by its own file (`curl --cacert`), never by turning checks off.

    Raises:
        TlsError: openssl is missing or failed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / CERTIFICATE, directory / KEY
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsError("openssl is not installed (apt-get install -y openssl)")
    if certificate.exists() and key.exists():
        still_valid = subprocess.run(
            [openssl, "x509", "-checkend", "86400", "-noout", "-in", str(certificate)],
            capture_output=True,
            check=False,
        )
        if still_valid.returncode == 0:
            return certificate, key
    result = subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", str(DAYS), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
            "-addext", "extendedKeyUsage=serverAuth",
            "-keyout", str(key), "-out", str(certificate),
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise TlsError(f"openssl could not make a certificate: {result.stderr}")
    key.chmod(0o600)
    return certificate, key


def local_tls(directory: Path, *, http_port: int, https_port: int) -> LocalTls:
    """HTTPS on `https_port` with the local certificate; `http_port` redirects."""
    certificate, key = ensure_certificate(directory)
    return LocalTls(
        certificate=certificate,
        key=key,
        http_listen=f"127.0.0.1:{http_port}",
        https_port=https_port,
    )


def https_ok(url: str, certificate: Path) -> bool:
    """Whether `url` answers 2xx over TLS verified against `certificate`."""
    context = ssl.create_default_context(cafile=str(certificate))
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - https
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError):
        return False
