"""The object store named by STORAGE_URL (a local directory, or S3 through boto3)."""

from __future__ import annotations

from flask import Flask, current_app

from uploads.storage import store_from_url


def init_app(app: Flask) -> None:
    """Build the object store of ``app``."""
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


def store():
    """The object store."""
    return current_app.extensions["store"]
