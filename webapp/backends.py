"""The app's outside-world backends (SMS, storage) and keys, built once from configuration."""

from __future__ import annotations

import hashlib

from flask import Flask, current_app

from uploads.storage import store_from_url
from webapp.sms import notifier_from_config


def init_app(app: Flask) -> None:
    """Build the notifier and the object store named by the configuration."""
    app.extensions["notifier"] = notifier_from_config(app.config)
    app.extensions["store"] = store_from_url(
        app.config["STORAGE_URL"],
        options={
            "endpoint_url": app.config.get("S3_ENDPOINT_URL"),
            "region": app.config.get("S3_REGION"),
            "access_key": app.config.get("S3_ACCESS_KEY_ID"),
            "secret_key": app.config.get("S3_SECRET_ACCESS_KEY"),
            "path_style": app.config.get("S3_PATH_STYLE", True),
        },
        base_dir=app.instance_path,
    )
    # A key of its own for code hashes, derived from SECRET_KEY so one secret is enough to configure.
    app.extensions["code_key"] = hashlib.sha256(b"code-hash:" + app.config["SECRET_KEY"].encode()).digest()
    app.extensions["sheet_key"] = hashlib.sha256(b"sheet-qr:" + app.config["SECRET_KEY"].encode()).digest()
    app.extensions["invite_key"] = hashlib.sha256(b"invite-link:" + app.config["SECRET_KEY"].encode()).digest()


def notifier():
    """The SMS notifier."""
    return current_app.extensions["notifier"]


def store():
    """The object store."""
    return current_app.extensions["store"]


def code_key() -> bytes:
    """The key for hashing registration and SMS codes."""
    return current_app.extensions["code_key"]


def sheet_key() -> bytes:
    """The key for the checksum in sheet QR codes."""
    return current_app.extensions["sheet_key"]


def invite_key() -> bytes:
    """The key that signs personal invitation links."""
    return current_app.extensions["invite_key"]
