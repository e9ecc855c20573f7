"""Submitting a confirmation, and the head teacher's approve / return decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors
from confirm.i18n import N_, Message
from confirm.models import Confirmation, ConfirmationEvent, Guardianship, ParentAccount, StoredFile, utcnow
from confirm.ports import Notifier
from confirm.services import proofs
from confirm.services.common import Actor, audit
from confirm.services.records import apply_correction
from confirm.states import Action, State, next_state
from confirm.unit_of_work import after_commit

MAX_REASON_LENGTH = 500


def _transition(
    session: Session, confirmation: Confirmation, action: Action, actor: Actor, now: datetime, note: str | None = None
) -> None:
    before = State(confirmation.state)
    after = next_state(before, action)
    confirmation.state = after.value
    session.add(
        ConfirmationEvent(
            confirmation_id=confirmation.id, from_state=before.value, to_state=after.value,
            actor_kind=actor.kind, actor_id=actor.id or 0, note=note, at=now,
        )
    )


def submit_confirmation(
    session: Session, confirmation: Confirmation, sheet: StoredFile, *, actor: Actor, now: datetime | None = None
) -> None:
    """Hand in the record with the photo of the signed sheet; it now waits for the head teacher."""
    now = now or utcnow()
    _transition(session, confirmation, Action.SUBMIT, actor, now)
    confirmation.sheet_file_id = sheet.id
    confirmation.submitted_at = now
    confirmation.submitted_by_kind = actor.kind
    confirmation.submitted_by_id = actor.id
    confirmation.return_reason = None
    for correction in confirmation.corrections:
        correction.status = "submitted"
    audit(session, actor, "confirmation.submitted", school_id=confirmation.student.school_id,
          target=confirmation, detail={"corrections": len(confirmation.corrections)}, at=now)
    session.flush()


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
            correction.status = "pending_admin"
        else:
            apply_correction(confirmation.student, correction)
            correction.status = "applied"
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
    notifier: Notifier,
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
        correction.status = "draft"
    audit(session, actor, "confirmation.returned", school_id=confirmation.student.school_id,
          target=confirmation, detail={"reason": reason}, at=now)
    session.flush()
    phones = session.scalars(
        select(ParentAccount.phone)
        .join(Guardianship, Guardianship.parent_id == ParentAccount.id)
        .where(Guardianship.student_id == confirmation.student_id)
    ).all()
    given_name = confirmation.student.name[1:] or confirmation.student.name
    text = f"【学籍信息确认】{given_name}的学籍确认表已被班主任退回，请登录平台查看原因并重新提交。"
    for phone in phones:
        after_commit(session, lambda phone=phone: notifier.send(phone, text))
