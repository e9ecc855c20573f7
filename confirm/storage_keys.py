"""The shape of the storage keys the app makes, so that generating a key and recognising one are the same rule."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum

# <kind>/<school id>/<yyyy>/<mm>/<32 hex>.<ext>[.<ext>…] — e.g. sheet/3/2026/09/…​.jpg and its .thumb.jpg
GENERATED_KEY = re.compile(r"[a-z]+/\d+/\d{4}/\d{2}/[0-9a-f]{32}(?:\.[a-z0-9]+){1,3}")


def new_object_key(kind: str, school_id: int, ext: str = "jpg") -> str:
    """A generated, unguessable key — never the client's file name."""
    now = datetime.now(UTC)
    return f"{kind}/{school_id}/{now:%Y/%m}/{secrets.token_hex(16)}.{ext}"


def is_generated_key(key: str) -> bool:
    """True for keys shaped like :func:`new_object_key`'s (other objects in a shared bucket are not ours)."""
    return GENERATED_KEY.fullmatch(key) is not None


def thumbnail_key(key: str) -> str:
    """Where the thumbnail of the photo stored under ``key`` goes."""
    return key.removesuffix(".jpg") + ".thumb.jpg"


class PendingState(StrEnum):
    """Where an object without its row stands (``pending_objects``)."""

    WRITING = "writing"  # recorded before the write; its row commits soon, or the upload died
    ABANDONED = "abandoned"  # its upload failed (or its delete did): no row will ever refer to it
