"""Taking an uploaded photo into storage so that a 2xx answer means object and row both exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from confirm.models import StoredFile, Student
from confirm.services.common import Actor
from confirm.services.files import find_duplicate, record_file
from uploads.intake import sanitize_image
from uploads.storage import new_object_key
from webapp.backends import store

T = TypeVar("T")


def store_photo_and(
    session: Session, student: Student, data: bytes, *, kind: str, actor: Actor, then: Callable[[StoredFile], T]
) -> T:
    """Sanitise ``data``, store it, record it, run ``then(file)`` and commit — or leave nothing behind.

    Raises uploads.intake.IntakeError for a photo that cannot be accepted, and any error of ``then``.
    """
    image = sanitize_image(data)
    stored = find_duplicate(session, student, kind, image.sha256)
    new_key = None
    if stored is None:
        new_key = new_object_key(kind, student.school_id)
        store().put(new_key, image.data, image.content_type)
    try:
        if stored is None:
            stored = record_file(
                session, student, kind=kind, storage_key=new_key, sha256=image.sha256,
                content_type=image.content_type, size_bytes=len(image.data), width=image.width,
                height=image.height, actor=actor,
            )
        result = then(stored)
        session.commit()
    except BaseException:
        session.rollback()
        if new_key is not None:
            store().delete(new_key)  # no row, so no object either
        raise
    return result
