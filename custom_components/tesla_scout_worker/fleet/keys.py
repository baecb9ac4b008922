"""The application's key pair for signed commands, as PEM text.

An EC P-256 key (what Tesla's Vehicle Command Protocol uses). The public half
is what a car must know (paired in the Tesla app) and what Tesla fetches from
the application's domain at
``/.well-known/appspecific/com.tesla.3p.public-key.pem``. Where the private half
is kept is the Home Assistant layer's business (a private store of the entry).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def new_private_key() -> ec.EllipticCurvePrivateKey:
    """A new key pair."""
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The private key as PEM text (to store; never to log)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def load_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """The key stored by :func:`private_key_pem`; ``TypeError`` for another kind."""
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
        loaded.curve, ec.SECP256R1
    ):
        msg = "not an EC P-256 private key"
        raise TypeError(msg)
    return loaded


def public_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The public key as Tesla fetches it (SubjectPublicKeyInfo PEM)."""
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )
