"""The platform's signing keypair: the private key stays with the operator (0600 file or a
Secret); services are given only the public key."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_NAME = "signing_key.pem"
PUBLIC_NAME = "signing_key.pub.pem"


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def parse_public(pem: bytes | str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


def ensure_keypair(directory: Path) -> tuple[Path, Path]:
    """The keypair under ``directory``, created on first use: private key 0600 (created with that
    mode, never readable by others even for an instant), public key beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    private, public = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    if not private.exists():
        key = generate()
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(private_pem(key))
        public.write_bytes(public_pem(key))
    else:
        os.chmod(private, 0o600)
        if not public.exists():
            public.write_bytes(public_pem(load_private(private)))
    return private, public
