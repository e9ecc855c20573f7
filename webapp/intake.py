"""Taking an uploaded photo into storage so that a 2xx answer means object and row both exist."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from confirm.models import Campaign, StoredFile, Student
from confirm.services.common import Actor
from confirm.services.files import find_duplicate, record_file
from uploads.pipeline import SheetExpectation, Verdict, examine
from uploads.storage import new_object_key
from webapp.backends import sheet_key, store

T = TypeVar("T")
log = logging.getLogger(__name__)


def examine_sheet(data: bytes, student: Student, campaign: Campaign) -> Verdict:
    """Sanitise and judge a photo of ``student``'s signed sheet (raises IntakeError for a non-photo)."""
    expect = SheetExpectation(student.id, campaign.id, student.record_version or 1, campaign.require_sheet_qr)
    return examine(data, sheet_key=sheet_key(), expect=expect)


def store_photo_and(
    session: Session, student: Student, verdict: Verdict, *, kind: str, actor: Actor,
    then: Callable[[StoredFile], T], extra_quality: dict | None = None,
) -> T:
    """Store the sanitised photo and its thumbnail, record them, run ``then(file)`` and commit —
    or leave nothing behind. The same photo again for the same student is not stored twice."""
    image = verdict.image
    stored = find_duplicate(session, student, kind, image.sha256)
    new_keys: list[str] = []
    if stored is None:
        key = new_object_key(kind, student.school_id)
        thumb_key = key.removesuffix(".jpg") + ".thumb.jpg"
        store().put(key, image.data, image.content_type)
        new_keys.append(key)
        store().put(thumb_key, image.thumbnail, image.content_type)
        new_keys.append(thumb_key)
    try:
        if stored is None:
            stored = record_file(
                session, student, kind=kind, storage_key=new_keys[0], sha256=image.sha256,
                content_type=image.content_type, size_bytes=len(image.data), width=image.width,
                height=image.height, actor=actor,
            )
            stored.thumbnail_key = new_keys[1]
            stored.quality = {**verdict.figures(), **(extra_quality or {})}
        result = then(stored)
        session.commit()
    except BaseException:
        session.rollback()
        for key in new_keys:  # no row, so no object either; what cannot be deleted now, sweep-storage removes
            try:
                store().delete(key)
            except Exception:
                log.exception("could not delete %s after a failed upload; sweep-storage will remove it", key)
        raise
    return result
