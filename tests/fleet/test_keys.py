"""The application's key pair: made, stored as text, read back, its public half."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
import pytest

from custom_components.tesla_scout_worker.fleet.keys import (
    load_private_key,
    new_private_key,
    private_key_pem,
    public_key_pem,
)


def test_a_stored_key_reads_back_as_the_same_p256_key() -> None:
    key = new_private_key()
    pem = private_key_pem(key)
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----")
    again = load_private_key(pem)
    assert isinstance(again.curve, ec.SECP256R1)
    assert again.private_numbers() == key.private_numbers()
    # Two keys are two keys.
    assert new_private_key().private_numbers() != key.private_numbers()


def test_the_public_key_is_what_tesla_fetches_from_the_domain() -> None:
    key = new_private_key()
    pem = public_key_pem(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in pem
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(
    "other",
    [
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
)
def test_a_key_of_another_kind_is_refused(
    other: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> None:
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(TypeError):
        load_private_key(pem)
