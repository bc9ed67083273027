"""Recordings at rest (V8): sealed in a CMS envelope for the recordings certificate.

The server that records holds only the certificate, so it cannot play what it wrote; playback
and download need the private key, configured only where supervisors listen. The audio never
touches the disk unsealed: the recorder writes into memory and only the envelope is stored.

CMS enveloped data (AES-256-CBC) keeps the audio secret but does not notice a changed byte, so
the envelope holds the audio's SHA-256 beside it: a flipped byte anywhere fails to unseal.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

FORMAT = b"cc-recording-1\n"
DIGEST_BYTES = 32


class SealBroken(Exception):
    """The envelope is not ours, was changed, or the key does not open it."""


def seal(audio: bytes, certificate: x509.Certificate) -> bytes:
    inner = FORMAT + hashlib.sha256(audio).digest() + audio
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(inner)
        .add_recipient(certificate)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def unseal(envelope: bytes, certificate: x509.Certificate, private_key) -> bytes:
    try:
        inner = pkcs7.pkcs7_decrypt_der(envelope, certificate, private_key, [])
    except ValueError as error:  # not CMS, another recipient, or bad padding after a flipped byte
        raise SealBroken(str(error)) from None
    if not inner.startswith(FORMAT):
        raise SealBroken("not a sealed recording")
    digest, audio = inner[len(FORMAT) : len(FORMAT) + DIGEST_BYTES], inner[len(FORMAT) + DIGEST_BYTES :]
    if not hmac.compare_digest(digest, hashlib.sha256(audio).digest()):
        raise SealBroken("the recording was changed")
    return audio


def certificate_and_key(name: str = "Recordings", *, days: int = 3650):
    """A self-signed recordings certificate and its private key (demo mode, tests). A real
    installation brings its own, and keeps the key off the servers that record."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def write_pair(certificate_path: Path, key_path: Path, name: str = "Recordings") -> None:
    certificate, key = certificate_and_key(name)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def load_certificate(path: str | Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_private_key(path: str | Path):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
