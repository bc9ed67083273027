"""Recordings at rest (V8): sealed in a CMS envelope for the recordings certificate.

The server that records holds only the certificate, so it cannot play what it wrote; playback
and download need the private key, configured only where supervisors listen. The audio never
touches the disk unsealed: the recorder writes into memory and only the envelope is stored.

CMS enveloped data (AES-256-CBC) keeps the audio secret but does not notice a changed byte, so
the envelope holds the audio's SHA-256 beside it: a flipped byte anywhere fails to unseal.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

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
