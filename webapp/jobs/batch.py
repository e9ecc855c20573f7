"""Filing sheet photos for parents: one photo for a known student, and the job that matches one photo of a batch.

``process_batch_item`` runs in an RQ worker when REDIS_URL is set, else right away in the request (see jobs.py).
It uses a session of its own, because in the worker the app context (and so ``db.session()``) lives for many jobs.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.orm import Session

from confirm.errors import DomainError, FieldErrors
from confirm.i18n import N_, Message
from confirm.models import BatchItem, Campaign, StoredFile, Student
from confirm.services import batches
from confirm.services.common import Actor
from confirm.sheets import InvalidSheetCode, SheetRef, parse_sheet_payload
from confirm.unit_of_work import after_commit
from uploads.intake import IntakeError
from uploads.pipeline import SheetExpectation, Verdict, examine
from webapp.adapters.keys import sheet_key
from webapp.adapters.photos import store_photo_and
from webapp.adapters.storage import store

log = logging.getLogger(__name__)


class GateRefused(FieldErrors):
    """The quality gate refused the photo; a head teacher may still file it with a recorded reason."""


def sheet_ref(qr: str | None) -> SheetRef | None:
    """The sheet a decoded QR text names, or None when there is none or it is not one of ours."""
    if not qr:
        return None
    try:
        return parse_sheet_payload(sheet_key(), qr)
    except InvalidSheetCode:
        return None


def hand_in(
    session: Session, student: Student, campaign: Campaign, data: bytes, *, actor: Actor, how: str,
    override_reason: str | None = None, qr_required: bool | None = None, then=None,
) -> StoredFile:
    """Examine ``data`` as ``student``'s signed sheet, store it and submit the confirmation, then commit.

    A refused photo raises GateRefused unless ``override_reason`` is given (the teacher ticked "use it anyway");
    a sheet whose QR names another student is never filed here. Raises IntakeError for a file that is no photo.
    """
    if not batches.can_take_sheet(session, campaign, student):
        raise FieldErrors([("upload_no", Message(N_("该学生的确认表已经提交，不能再代为上传")))])
    required = campaign.require_sheet_qr if qr_required is None else qr_required
    expect = SheetExpectation(student.id, campaign.id, student.record_version or 1, required)
    verdict = examine(data, sheet_key=sheet_key(), expect=expect)
    extra = None
    override = None
    if not verdict.is_accepted:
        if override_reason is None:
            raise GateRefused([("sheet", reason) for reason in verdict.reasons])
        override = batches.clean_override(sheet_ref(verdict.qr), student, override_reason)
        extra = batches.override_quality(actor, override)

    def filed(sheet: StoredFile) -> StoredFile:
        batches.submit_on_behalf(session, campaign, student, sheet, actor=actor, how=how, override=override)
        if then is not None:
            then(sheet)
        return sheet

    return store_photo_and(session, student, verdict, kind="sheet", actor=actor, then=filed, extra_quality=extra)


def _delete_later(session: Session, key: str | None) -> None:
    if key:
        after_commit(session, lambda: store().delete(key))


def _examine_unexpected(data: bytes) -> Verdict:
    return examine(data)  # no expectation: the QR code says whose sheet it is


def process_batch_item(item_id: int) -> str:
    """Match one uploaded photo to a student by its QR code and file it when it is ours; returns its status."""
    with current_app.extensions["db_sessionmaker"]() as session:
        item = session.get(BatchItem, item_id)
        if item is None or item.status != "pending":
            return item.status if item else "missing"
        try:
            status = _process(session, item)
        except Exception:  # never leave a photo "pending" for ever
            log.exception("batch item %s could not be processed", item_id)
            session.rollback()
            item = session.get(BatchItem, item_id)
            batches.finish_item(session, item, "unreadable", reason=Message(N_("处理这张照片时出错，请重新上传")))
            _delete_later(session, item.upload_key)
            item.upload_key = None
            session.commit()
            status = item.status
        return status


def _process(session: Session, item: BatchItem) -> str:
    batch = item.batch
    raw_key = item.upload_key
    try:
        data = store().get(raw_key) if raw_key else b""
        verdict = _examine_unexpected(data)
    except (KeyError, IntakeError) as exc:
        reason = exc.message if isinstance(exc, IntakeError) else Message(N_("照片文件丢失，请重新上传"))
        batches.finish_item(session, item, "unreadable", reason=reason)
        _delete_later(session, raw_key)
        item.upload_key = None
        session.commit()
        return item.status
    ref = sheet_ref(verdict.qr)
    match = batches.match_sheet(session, batch, ref, verdict.image.sha256)
    if match.status in ("matched", "no_qr") and not verdict.is_accepted:
        # Kept for the teacher: filed by hand after a look, with a reason, or discarded.
        reason = "；".join(r.render() for r in verdict.reasons)
        batches.finish_item(session, item, "refused", reason=reason, qr=verdict.qr)
        session.commit()
        return item.status
    if match.status != "matched":
        batches.finish_item(session, item, match.status, reason=match.reason, qr=verdict.qr)
        if match.status not in batches.WAITING:
            _delete_later(session, raw_key)
            item.upload_key = None
        session.commit()
        return item.status
    teacher = Actor("staff", batch.created_by_id)
    campaign = session.get(Campaign, batch.campaign_id)
    _delete_later(session, raw_key)

    def filed(sheet: StoredFile) -> None:
        batches.submit_on_behalf(session, campaign, match.student, sheet, actor=teacher, how="batch")
        batches.finish_item(session, item, "matched", student=match.student, sheet=sheet, qr=verdict.qr)
        item.upload_key = None

    try:
        store_photo_and(session, match.student, verdict, kind="sheet", actor=teacher, then=filed)
    except DomainError as exc:  # e.g. the parent submitted a moment ago
        item = session.get(BatchItem, item.id)
        batches.finish_item(session, item, "duplicate", reason=exc.message, qr=verdict.qr)
        _delete_later(session, raw_key)
        item.upload_key = None
        session.commit()
    return item.status


def assign_item(session: Session, item: BatchItem, student: Student, *, actor: Actor,
                override_reason: str | None = None) -> StoredFile:
    """File a photo that matching left over under the student the teacher chose, then commit."""
    if item.status not in batches.WAITING or not item.upload_key:
        raise FieldErrors([("", Message(N_("这张照片已经处理，不能再归档")))])
    try:
        data = store().get(item.upload_key)
    except KeyError:
        raise FieldErrors([("", Message(N_("照片文件丢失，请重新上传")))]) from None
    campaign = session.get(Campaign, item.batch.campaign_id)
    raw_key = item.upload_key

    def done(sheet: StoredFile) -> None:
        batches.finish_item(session, item, "assigned", student=student, sheet=sheet)
        item.upload_key = None
        _delete_later(session, raw_key)

    return hand_in(session, student, campaign, data, actor=actor, how="batch_manual",
                   override_reason=override_reason, qr_required=False, then=done)
