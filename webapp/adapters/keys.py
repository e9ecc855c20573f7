"""Keys derived from SECRET_KEY, one per purpose, so one secret is enough to configure."""

from __future__ import annotations

import hashlib

from flask import Flask, current_app

_PURPOSES = {"code_key": b"code-hash:", "sheet_key": b"sheet-qr:", "invite_key": b"invite-link:"}


def init_app(app: Flask) -> None:
    """Derive the keys of ``app`` from its SECRET_KEY."""
    secret = app.config["SECRET_KEY"].encode()
    for name, label in _PURPOSES.items():
        app.extensions[name] = hashlib.sha256(label + secret).digest()


def code_key() -> bytes:
    """The key for hashing registration and SMS codes."""
    return current_app.extensions["code_key"]


def sheet_key() -> bytes:
    """The key for the checksum in sheet QR codes."""
    return current_app.extensions["sheet_key"]


def invite_key() -> bytes:
    """The key that signs personal invitation links."""
    return current_app.extensions["invite_key"]
