"""The object store named by STORAGE_URL (a local directory, or S3 through boto3), behind the storage breaker.

Every call that reaches the backend goes through ``GuardedStore``: while the breaker is open it fails at once with
StorageUnavailable; a backend error (a timeout, a refusal, a full disk) is counted and raised as
StorageUnavailable too, which the error pages answer with "照片服务暂时不可用". A missing object (KeyError) is an
answer, not a failure. Presigned URLs are signed locally and never wait for the service.
"""

from __future__ import annotations

from flask import Flask, current_app

from uploads.storage import StorageUnavailable, store_from_url
from webapp.adapters.breaker import Breaker, ServiceUnavailable

SERVICE = "storage"


class GuardedStore:
    """An ObjectStore whose calls pass the breaker and whose failures are StorageUnavailable."""

    def __init__(self, backend, breaker: Breaker):
        self.backend = backend
        self.breaker = breaker

    def __repr__(self) -> str:
        return repr(self.backend)

    def __getattr__(self, name):  # bucket, prefix, root, client…: the backend's own attributes
        return getattr(self.backend, name)

    def _guarded(self, operation: str, call):
        try:
            self.breaker.check()
        except ServiceUnavailable as exc:
            raise StorageUnavailable(str(exc), operation=operation) from exc
        try:
            result = call()
        except KeyError:
            self.breaker.succeeded()
            raise
        except StorageUnavailable:
            self.breaker.failed()
            raise
        except Exception as exc:  # e.g. a local disk that is full or read-only
            self.breaker.failed()
            raise StorageUnavailable(f"{operation}: {type(exc).__name__}", operation=operation) from exc
        self.breaker.succeeded()
        return result

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._guarded("put", lambda: self.backend.put(key, data, content_type))

    def get(self, key: str) -> bytes:
        return self._guarded("get", lambda: self.backend.get(key))

    def put_file(self, key: str, source, content_type: str) -> None:
        self._guarded("put", lambda: self.backend.put_file(key, source, content_type))

    def open_object(self, key: str):
        return self._guarded("get", lambda: self.backend.open_object(key))

    def delete(self, key: str) -> None:
        self._guarded("delete", lambda: self.backend.delete(key))

    def exists(self, key: str) -> bool:
        return self._guarded("exists", lambda: self.backend.exists(key))

    def list_objects(self, prefix: str = ""):
        # A listing is the sweep's (a command): it streams pages and is not cut short by the breaker.
        return self.backend.list_objects(prefix)

    def check(self) -> None:
        """The readiness probe: always asks the service (a successful probe closes the breaker)."""
        try:
            self.backend.check()
        except Exception:
            self.breaker.failed()
            raise
        self.breaker.succeeded()

    def presigned_url(self, key: str, expires: int = 300) -> str | None:
        return self.backend.presigned_url(key, expires)


def init_app(app: Flask) -> None:
    """Build the object store of ``app`` (nothing is asked of the service here: a missing bucket lets the app
    start, serve the pages that need no photos, and say so on /readyz)."""
    backend = store_from_url(
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
    app.extensions["store"] = GuardedStore(backend, Breaker(SERVICE, cool_off=app.config["BREAKER_COOL_OFF"]))


def store():
    """The object store."""
    return current_app.extensions["store"]
