"""HTTPS as TAXII 2.1 §8.2.2 requires: TLS 1.2 at least, only AEAD suites with forward secrecy."""

from __future__ import annotations

import datetime
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.live import EXCHANGE, HubHome, _free_port

pytestmark = pytest.mark.integration

TAXII = "application/taxii+json;version=2.1"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "hub.pem", directory / "hub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def backend() -> str:
    """TLS does not depend on storage: these servers run on SQLite only."""
    return "sqlite"


@pytest.fixture(scope="module")
def tls_hub(
    hub_home: HubHome, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, str]]:
    """An ``exchange serve --tls-cert --tls-key`` process: (base URL, CA file, token)."""
    member = hub_home.add_member("tls-member")
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    port = _free_port()
    log = tmp_path_factory.mktemp("tls-log") / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(EXCHANGE),
                "serve",
                "--port",
                str(port),
                "--tls-cert",
                str(cert),
                "--tls-key",
                str(key),
            ],
            env=hub_home.env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while f"Uvicorn running on {url}" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        yield url, cert, member.token
    finally:
        process.terminate()
        process.wait(timeout=15)


def _context(
    cert: Path, *, maximum: ssl.TLSVersion | None = None, ciphers: str | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    if maximum is not None:
        context.maximum_version = maximum
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


def test_serves_taxii_over_tls_13(tls_hub: tuple[str, Path, str]) -> None:
    url, cert, token = tls_hub
    with httpx.Client(verify=_context(cert)) as client:
        response = client.get(
            f"{url}/taxii2/", headers={"Accept": TAXII, "Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        assert response.json()["api_roots"] == ["/taxii2/trends/"]
    with (
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as raw,
        _context(cert).wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.3"


def test_tls_12_gets_an_aead_suite_with_forward_secrecy(tls_hub: tuple[str, Path, str]) -> None:
    url, cert, _ = tls_hub
    context = _context(cert, maximum=ssl.TLSVersion.TLSv1_2)
    with (
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        name, version, _ = tls.cipher()  # type: ignore[misc]
        assert version == "TLSv1.2"
        assert name.startswith("ECDHE-")
        assert "GCM" in name or "CHACHA20" in name


def test_blacklisted_tls_12_suites_are_refused(tls_hub: tuple[str, Path, str]) -> None:
    """RFC 7540 App. A: no CBC and no static-key suites."""
    url, cert, _ = tls_hub
    context = _context(
        cert, maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA:AES128-GCM-SHA256"
    )
    with (
        pytest.raises(ssl.SSLError),
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass


def test_tls_11_is_refused(tls_hub: tuple[str, Path, str]) -> None:
    """A client willing to speak TLS 1.1 (security level 0, so it is the server that says no)."""
    url, cert, _ = tls_hub
    context = ssl.create_default_context(cafile=str(cert))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 is deprecated
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        pytest.raises(ssl.SSLError),
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass


def test_serve_refuses_half_a_tls_configuration(hub_home: HubHome, tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    result = subprocess.run(
        [str(EXCHANGE), "serve", "--tls-cert", str(cert)],
        env=hub_home.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "give both --tls-cert and --tls-key" in result.stderr
