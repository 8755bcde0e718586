"""The machine's trusted root certificates, where Windows keeps them: in the registry.

``HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\ROOT\\Certificates\\<SHA-1>`` value ``Blob``, a
serialized certificate store element. The fleet puts the lab CA there as a domain PKI root is on
managed PCs; a download on the host validates servers against this store and nothing else.
"""

from __future__ import annotations

import hashlib
import struct

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.host.state import HostState

ROOT_STORE = r"HKLM\SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates"
# Serialized certificate store element: property id 32 (CERT_CERT_PROP_ID) holds the DER certificate.
_CERT_PROP_ID = 32


def trust_root(host: HostState, certificate: bytes) -> str:
    """Add a CA certificate (PEM or DER) to the host's machine root store; returns its thumbprint."""
    cert = (
        x509.load_pem_x509_certificate(certificate)
        if certificate.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(certificate)
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    thumbprint = hashlib.sha1(der).hexdigest().upper()  # Windows names store entries by SHA-1
    blob = struct.pack("<III", _CERT_PROP_ID, 1, len(der)) + der
    host.registry.set_value(f"{ROOT_STORE}\\{thumbprint}", "Blob", blob, "REG_BINARY")
    return thumbprint


def untrust_root(host: HostState, thumbprint: str) -> bool:
    """Remove a certificate from the host's machine root store (True when it was there)."""
    return host.registry.delete_key(f"{ROOT_STORE}\\{thumbprint.upper()}", recurse=True)


def trusted_roots(host: HostState) -> list[bytes]:
    """DER certificates in the host's machine root store."""
    if not host.registry.key_exists(ROOT_STORE):
        return []
    out: list[bytes] = []
    for thumbprint in host.registry.subkeys(ROOT_STORE):
        blob = host.registry.get(f"{ROOT_STORE}\\{thumbprint}", "Blob")
        offset = 0
        while isinstance(blob, bytes) and offset + 12 <= len(blob):
            prop, _flags, length = struct.unpack_from("<III", blob, offset)
            if prop == _CERT_PROP_ID:
                out.append(bytes(blob[offset + 12 : offset + 12 + length]))
                break
            offset += 12 + length
    return out
