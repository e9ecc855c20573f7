"""Students with something to archive: a submitted and approved sheet photo in storage, corrections (one of key data,
decided by the school admin) and a proof document — made through the real services, synthetic data only."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from PIL import Image
from sqlalchemy.orm import Session

from confirm.models import Campaign, Confirmation, StaffUser, StoredFile, Student, utcnow
from confirm.ports import ObjectStore
from confirm.services import keydata, records, review
from confirm.services.common import Actor
from confirm.services.files import record_file
from confirm.storage_keys import new_object_key

NEW_ADDRESS = "贵阳市观山湖区档案路8号"
NEW_ETHNICITY = "03"  # 回族: key data, approved by the school admin


def small_jpeg(seed: int, size=(320, 240)) -> bytes:
    """A small, distinct photo (a sheet photo as the intake would have stored it, only smaller)."""
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    for x in range(0, size[0], 16):
        image.paste((seed % 200, 40, 60), (x, (seed * 7 + x) % size[1], x + 8, (seed * 7 + x) % size[1] + 8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def tiny_pdf() -> bytes:
    """A one-page PDF proof document (as a parent's scanned 户口簿 would be)."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, "Hukou booklet scan (synthetic)")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def store_file(session: Session, store: ObjectStore, student: Student, kind: str, data: bytes, *, actor: Actor,
               content_type: str = "image/jpeg", confirmation: Confirmation | None = None) -> StoredFile:
    """An object in storage and its row."""
    key = new_object_key(kind, student.school_id, "pdf" if content_type == "application/pdf" else "jpg")
    store.put(key, data, content_type)
    stored = record_file(session, student, kind=kind, storage_key=key, sha256=hashlib.sha256(data).hexdigest(),
                         content_type=content_type, size_bytes=len(data), width=None, height=None, actor=actor)
    if confirmation is not None:
        stored.confirmation_id = confirmation.id
    return stored


def confirmed_student(session: Session, store: ObjectStore, campaign: Campaign, student: Student, *,
                      parent_id: int, teacher: StaffUser, admin: StaffUser, seed: int = 1,
                      pdf_proof: bool = False) -> Confirmation:
    """``student`` corrected (address and, as key data, ethnicity), proven, submitted with a sheet photo, approved by
    the head teacher and the key-data change approved by the school admin."""
    parent = Actor("parent", parent_id)
    now = utcnow() - timedelta(hours=2)
    confirmation = records.ensure_confirmation(session, campaign, student)
    records.save_corrections(session, confirmation, {(0, "current_address"): NEW_ADDRESS,
                                                     (0, "ethnicity"): NEW_ETHNICITY}, actor=parent, now=now)
    session.flush()
    store_file(session, store, student, "proof", small_jpeg(seed + 1000), actor=parent, confirmation=confirmation)
    if pdf_proof:
        store_file(session, store, student, "proof", tiny_pdf(), actor=parent, confirmation=confirmation,
                   content_type="application/pdf")
    sheet = store_file(session, store, student, "sheet", small_jpeg(seed), actor=parent)
    session.refresh(confirmation)
    review.submit_confirmation(session, confirmation, sheet, actor=parent, now=now + timedelta(minutes=1))
    review.approve_confirmation(session, confirmation, actor=Actor("staff", teacher.id),
                                now=now + timedelta(minutes=30))
    for correction in confirmation.corrections:
        if correction.is_key_data:
            keydata.approve_key_correction(session, correction, actor=Actor("staff", admin.id),
                                           now=now + timedelta(hours=1))
    session.flush()
    return confirmation
