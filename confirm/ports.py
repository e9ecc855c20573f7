"""Ports to the outside world: SMS and object storage. Backends live outside the domain core."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol


class Notifier(Protocol):
    """Sends a text message to a mobile phone."""

    def send(self, phone: str, text: str) -> None:
        """Send ``text`` to ``phone``; raise on failure."""


class StoredObject(Protocol):
    """One object as a storage listing shows it."""

    @property
    def key(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def last_modified(self) -> datetime:
        """When the object was written (timezone-aware)."""


class ObjectStore(Protocol):
    """Private object storage (S3 or a local directory)."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``."""

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; KeyError when there is none."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when it is already gone)."""

    def exists(self, key: str) -> bool:
        """True when ``key`` is stored."""

    def list_objects(self, prefix: str = "") -> Iterable[StoredObject]:
        """Every stored object whose key starts with ``prefix``."""

    def check(self) -> None:
        """Raise when the storage cannot be reached."""
