"""Lab certificate authority and per-host server certificates for WinRM over HTTPS.

The CA certificate lands in ``<state-dir>/ca.pem`` so that inventories can point
``ansible_winrm_ca_trust_path`` at it and validate like against a real domain PKI.
Everything is cached in the state directory: restarting the lab reuses the CA
(tests and controllers that trust it keep working) and the host certificates.
All host certificates share one EC key because generating 1,000 keys would
dominate start-up and a simulator gains nothing from distinct keys.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=3650)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o600)
    tmp.replace(path)


def _load_or_make_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.is_file():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_private(path, pem)
    return key


class LabCA:
    """The lab's certificate authority, cached under ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.ca_path = self.state_dir / "ca.pem"
        self.cert_dir = self.state_dir / "certs"
        self._ca_key = _load_or_make_key(self.state_dir / "ca.key")
        self._host_key = _load_or_make_key(self.cert_dir / "host.key")
        self.host_key_path = self.cert_dir / "host.key"
        self._ca_cert = self._load_or_make_ca()

    def _load_or_make_ca(self) -> x509.Certificate:
        if self.ca_path.is_file():
            cert = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
            # A CA written for another key (state dir partly deleted) would sign nothing valid.
            if cert.public_key() == self._ca_key.public_key():
                return cert
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lab WinRM CA")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._ca_key.public_key()), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        _write_private(self.ca_path, cert.public_bytes(serialization.Encoding.PEM))
        self.ca_path.chmod(0o644)
        return cert

    def host_cert_path(self, name: str, address: str) -> Path:
        """PEM chain (host cert + CA) for ``name`` at ``address``, issued once and reused while still matching."""
        path = self.cert_dir / f"{name}.pem"
        if path.is_file():
            try:
                cert = x509.load_pem_x509_certificates(path.read_bytes())[0]
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                if (
                    cert.issuer == self._ca_cert.subject
                    and cert.public_key() == self._host_key.public_key()
                    and ipaddress.ip_address(address) in san.get_values_for_type(x509.IPAddress)
                    and name in san.get_values_for_type(x509.DNSName)
                ):
                    return path
            except (ValueError, x509.ExtensionNotFound):
                pass
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._ca_cert.subject)
            .public_key(self._host_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(address))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM) + self._ca_cert.public_bytes(serialization.Encoding.PEM)
        _write_private(path, pem)
        return path

    def server_context(self, name: str, address: str) -> ssl.SSLContext:
        """A TLS server context presenting ``name``'s certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.host_cert_path(name, address), self.host_key_path)
        return ctx
