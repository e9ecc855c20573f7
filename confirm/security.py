"""Secrets handling: argon2id passwords, keyed hashes for codes, random codes and numbers."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from confirm.folding import fold_code

# OWASP minimum for argon2id: m = 19 MiB, t = 2, p = 1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("not-a-real-password")

# Registration codes avoid look-alike characters (0/O, 1/I/L) so they survive being read aloud.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; spends the same time when there is no account."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, hex: lets us find a code without storing it."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def new_registration_code() -> str:
    """A fresh 8-character registration code, shown as XXXX-XXXX."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_registration_code(text: str) -> str:
    """Fold full-width forms, upper-case, drop spaces and dashes, so what a parent types matches the issued code."""
    cleaned = "".join(ch for ch in fold_code(text).upper() if ch.isascii() and ch.isalnum())
    return f"{cleaned[:4]}-{cleaned[4:]}" if len(cleaned) == 8 else cleaned


def new_sms_code() -> str:
    """A 6-digit one-time code."""
    return f"{secrets.randbelow(1_000_000):06d}"


def new_digits(length: int) -> str:
    """A random number of ``length`` digits not starting with 0 (platform and upload numbers)."""
    return str(secrets.randbelow(9 * 10 ** (length - 1)) + 10 ** (length - 1))


def new_temporary_password() -> str:
    """A temporary password (10 characters, no look-alikes), sent by SMS and replaced at the next sign-in."""
    return "".join(secrets.choice("23456789abcdefghjkmnpqrstuvwxyz") for _ in range(10))


def new_nonce() -> str:
    """A random session nonce; changing it ends every session of the account."""
    return secrets.token_hex(16)


def constant_time_equal(a: str, b: str) -> bool:
    """Compare two secrets without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())
