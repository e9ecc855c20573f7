"""The photo intake as the views need it: a sheet photo judged for one student, a proof document read, and a
photo taken into storage so that a 2xx answer means object and row both exist."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from confirm.models import Campaign, StoredFile, Student
from confirm.services.common import Actor
from confirm.services.files import find_duplicate, record_file
from confirm.services.proofs import ProofUpload
from uploads.intake import accept_proof_pdf, sanitize_image, sniff
from uploads.pipeline import SheetExpectation, Verdict, examine
from uploads.storage import new_object_key
from webapp.adapters.keys import sheet_key
from webapp.adapters.storage import store

T = TypeVar("T")
log = logging.getLogger(__name__)


def examine_sheet(data: bytes, student: Student, campaign: Campaign) -> Verdict:
    """Sanitise and judge a photo of ``student``'s signed sheet (raises IntakeError for a non-photo)."""
    expect = SheetExpectation(student.id, campaign.id, student.record_version or 1, campaign.require_sheet_qr)
    return examine(data, sheet_key=sheet_key(), expect=expect)


def read_proof(data: bytes) -> ProofUpload:
    """A proof document ready to store (raises IntakeError for anything but a photo or a PDF)."""
    if sniff(data) == "PDF":
        document = accept_proof_pdf(data)
        return ProofUpload(document.data, document.sha256, document.content_type)
    image = sanitize_image(data)  # no sheet QR code or blur gate: a 户口簿 page is judged by the teacher
    return ProofUpload(image.data, image.sha256, image.content_type, thumbnail=image.thumbnail,
                       width=image.width, height=image.height)


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
