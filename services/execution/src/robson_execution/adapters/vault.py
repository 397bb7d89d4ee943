"""API keys encrypted at rest with AES-GCM; the master key comes from the environment or a
mounted secret file and can be rotated (several versions readable, the first one writes).

Master key format: ``<version>:<base64 32 bytes>``, comma-separated, newest first, e.g.
``ROBSON_EXECUTION_MASTER_KEYS="k2:...,k1:..."`` or the same text in a file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class VaultError(Exception):
    pass


@dataclass(frozen=True)
class ApiCredentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never leak secrets through logs or tracebacks
        return f"ApiCredentials(fingerprint={fingerprint(self.api_key)})"

    __str__ = __repr__


def fingerprint(api_key: str) -> str:
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def parse_master_keys(text: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        version, _, encoded = item.partition(":")
        key = base64.b64decode(encoded)
        if not version or len(key) != 32:
            raise VaultError(f"master key {version or '?'} must be '<version>:<base64 of 32 bytes>'")
        keys[version] = key
    return keys


class KeyVault:
    def __init__(self, master_keys: dict[str, bytes]) -> None:
        self._keys = dict(master_keys)
        self.current = next(iter(self._keys), None)

    @classmethod
    def from_sources(cls, env_value: str = "", file_path: str = "") -> KeyVault:
        text = env_value
        if not text and file_path and Path(file_path).exists():
            text = Path(file_path).read_text().strip()
        return cls(parse_master_keys(text) if text else {})

    @property
    def configured(self) -> bool:
        return self.current is not None

    def encrypt(self, creds: ApiCredentials, account_id: str) -> str:
        if self.current is None:
            raise VaultError("no master key configured (ROBSON_EXECUTION_MASTER_KEYS or _FILE)")
        nonce = os.urandom(12)
        plain = json.dumps({"k": creds.api_key, "s": creds.api_secret}).encode()
        sealed = AESGCM(self._keys[self.current]).encrypt(nonce, plain, account_id.encode())
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, account_id: str) -> ApiCredentials:
        version, _, body = token.partition(":")
        if version not in self._keys:
            raise VaultError(f"master key version {version!r} is not available")
        raw = base64.b64decode(body)
        try:
            plain = AESGCM(self._keys[version]).decrypt(raw[:12], raw[12:], account_id.encode())
        except Exception as exc:
            raise VaultError("stored key cannot be decrypted (wrong master key or tampered)") from exc
        data = json.loads(plain)
        return ApiCredentials(data["k"], data["s"])

    def needs_rotation(self, token: str) -> bool:
        return token.partition(":")[0] != self.current

    def rotate(self, token: str, account_id: str) -> str:
        return self.encrypt(self.decrypt(token, account_id), account_id)
