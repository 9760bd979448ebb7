"""API key material: generation and hashing. Keys are shown once and stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "pg-"
_PREFIX_SHOWN = 10


def hash_key(raw_key: str) -> str:
    """SHA-256 hex of a key: keys carry 256 random bits, so a fast hash is the right tool."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A fresh key, as ``(raw_key, shown_prefix, key_hash)``."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[:_PREFIX_SHOWN], hash_key(raw)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)
