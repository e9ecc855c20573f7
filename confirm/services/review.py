"""Submitting a confirmation, and the head teacher's approve / return decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, UnreadablePhoto
from confirm.i18n import N_, Message
from confirm.models import (
    Campaign,
    Confirmation,
    ConfirmationEvent,
    Guardianship,
    ParentAccount,
    StoredFile,
    Student,
    utcnow,
)
from confirm.ports import ObjectStore, PhotoExaminer
from confirm.services import proofs
from confirm.services.common import Actor, audit
from confirm.services.files import store_photo
from confirm.services.outbox import public_url, queue_sms
from confirm.services.records import apply_correction, ensure_confirmation
from confirm.states import (
    CORRECTION_MOVES,
    Action,
    CorrectionStatus,
    MessageKind,
    State,
    Submission,
    move,
    next_state,
)

MAX_REASON_LENGTH = 500


def _transition(
    session: Session, confirmation: Confirmation, action: Action, actor: Actor, now: datetime, note: str | None = None,
    *, via: Submission | None = None, sheet: StoredFile | None = None,
) -> None:
    before = State(confirmation.state)
    after = next_state(before, action)
    confirmation.state = after.value
    session.add(
        ConfirmationEvent(
            confirmation_id=confirmation.id, from_state=before.value, to_state=after.value,
            actor_kind=actor.kind, actor_id=actor.id or 0, note=note, at=now,
            via=via.value if via else None, sheet_file_id=sheet.id if sheet else None,
        )
    )


def submit_confirmation(
    session: Session, confirmation: Confirmation, sheet: StoredFile, *, actor: Actor, now: datetime | None = None,
    via: Submission = Submission.PARENT,
) -> None:
    """Hand in the record with the photo of the signed sheet (``via``: how it came); it now waits for the head
    teacher."""
    now = now or utcnow()
    _transition(session, confirmation, Action.SUBMIT, actor, now, via=via, sheet=sheet)
    confirmation.sheet_file_id = sheet.id
    confirmation.submitted_at = now
    confirmation.submitted_by_kind = actor.kind
    confirmation.submitted_by_id = actor.id
    confirmation.return_reason = None
    for correction in confirmation.corrections:
        correction.status = move(correction.status, CorrectionStatus.SUBMITTED, CORRECTION_MOVES)
    audit(session, actor, "confirmation.submitted", school_id=confirmation.student.school_id,
          target=confirmation, detail={"corrections": len(confirmation.corrections)}, at=now)
    session.flush()


def submit_sheet_photo(
    session: Session, campaign: Campaign, student: Student, data: bytes, *, examiner: PhotoExaminer,
    store: ObjectStore, actor: Actor, now: datetime | None = None,
) -> StoredFile:
    """The parent hands in the photo of the signed sheet: judged by the intake (a refusal says what to retake, on
    the ``sheet`` field), stored, and the confirmation submitted."""
    try:
        verdict = examiner.sheet_of(data, student, campaign)
    except UnreadablePhoto as exc:
        raise FieldErrors([("sheet", exc.message)]) from None
    if not verdict.is_accepted:
        raise FieldErrors([("sheet", reason) for reason in verdict.reasons])
    confirmation = ensure_confirmation(session, campaign, student)
    sheet = store_photo(session, store, student, verdict, kind="sheet", actor=actor)
    submit_confirmation(session, confirmation, sheet, actor=actor, now=now)
    return sheet


def approve_confirmation(
    session: Session, confirmation: Confirmation, *, actor: Actor, now: datetime | None = None
) -> None:
    """Accept the sheet: ordinary corrections enter the record, key-data ones go to the school admin."""
    now = now or utcnow()
    if proofs.is_missing_proof(session, confirmation):  # the teacher's approval must not pass key data unproven
        raise FieldErrors([("", Message(
            N_("这份材料更正了关键信息但没有证明材料，不能通过；请退回并选择“缺少证明材料”")))])
    _transition(session, confirmation, Action.APPROVE, actor, now)
    confirmation.decided_at = now
    confirmation.decided_by_id = actor.id
    for correction in confirmation.corrections:
        if correction.is_key_data:
            correction.status = move(correction.status, CorrectionStatus.PENDING_ADMIN, CORRECTION_MOVES)
        else:
            apply_correction(confirmation.student, correction)
            correction.status = move(correction.status, CorrectionStatus.APPLIED, CORRECTION_MOVES)
            correction.decided_by_id = actor.id
            correction.decided_at = now
    audit(session, actor, "confirmation.approved", school_id=confirmation.student.school_id,
          target=confirmation, at=now)
    session.flush()


def return_confirmation(
    session: Session,
    confirmation: Confirmation,
    reason: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Send the submission back to the parent with a reason; the parent is told by SMS."""
    now = now or utcnow()
    reason = " ".join(reason.split())
    if not reason:
        raise FieldErrors([("reason", Message(N_("请填写退回原因，家长会看到这段说明")))])
    if len(reason) > MAX_REASON_LENGTH:
        raise FieldErrors([("reason", Message(N_("退回原因不能超过 %(n)s 字"), {"n": MAX_REASON_LENGTH}))])
    _transition(session, confirmation, Action.RETURN, actor, now, note=reason)
    confirmation.return_reason = reason
    confirmation.decided_at = now
    confirmation.decided_by_id = actor.id
    for correction in confirmation.corrections:
        correction.status = move(correction.status, CorrectionStatus.DRAFT, CORRECTION_MOVES)
    audit(session, actor, "confirmation.returned", school_id=confirmation.student.school_id,
          target=confirmation, detail={"reason": reason}, at=now)
    session.flush()
    student = confirmation.student
    tell_parents(session, student, "sheet_returned", {
        "student_name": student.name, "link": public_url(session, f"/parent/students/{student.id}/submit")})


def tell_parents(session: Session, student, template: str, params: dict) -> None:
    """Queue a notice to every parent account linked to ``student``."""
    parents = session.execute(
        select(ParentAccount.id, ParentAccount.phone)
        .join(Guardianship, Guardianship.parent_id == ParentAccount.id)
        .where(Guardianship.student_id == student.id)
        .order_by(Guardianship.id)
    ).all()
    for parent_id, phone in parents:
        queue_sms(session, phone=phone, template=template, params=params, kind=MessageKind.NOTICE,
                  school_id=student.school_id, student_id=student.id, parent_id=parent_id)
