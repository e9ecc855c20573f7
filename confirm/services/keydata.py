"""The school admin's decision on key-data corrections (姓名, 性别, 出生日期, 民族, 身份证件类型, 身份证件号).

The head teacher's approval covers the signed sheet only; a key-data correction then waits (``pending_admin``)
until the school admin has compared it with the proof documents and applies or rejects it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, InvalidTransition
from confirm.fields import field_for
from confirm.i18n import N_, Message
from confirm.models import Confirmation, FieldCorrection, SchoolClass, Student, utcnow
from confirm.services.common import Actor, audit
from confirm.services.outbox import public_url
from confirm.services.records import apply_correction
from confirm.services.review import tell_parents
from confirm.states import CORRECTION_MOVES, CorrectionStatus, move

PENDING = CorrectionStatus.PENDING_ADMIN.value
MAX_REASON_LENGTH = 500
# What the family and the head teacher read beside a key-data correction once the sheet has been passed on.
OUTCOME_LABELS = {CorrectionStatus.PENDING_ADMIN: N_("待学校审核"), CorrectionStatus.APPLIED: N_("已生效"),
                  CorrectionStatus.REJECTED: N_("未通过"), CorrectionStatus.WITHDRAWN: N_("已撤回")}


def pending_corrections(session: Session, school_id: int) -> list[FieldCorrection]:
    """The school's key-data corrections waiting for the admin, by class and student."""
    return list(session.scalars(
        select(FieldCorrection)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.school_id == school_id, FieldCorrection.status == PENDING)
        .order_by(SchoolClass.grade, SchoolClass.name, Student.name, Student.id, FieldCorrection.id)
    ))


def count_pending(session: Session, school_id: int) -> int:
    """How many key-data corrections wait for the admin."""
    return session.scalar(
        select(func.count())
        .select_from(FieldCorrection)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(Student.school_id == school_id, FieldCorrection.status == PENDING)
    ) or 0


def pending_correction_for(session: Session, student: Student, field_key: str) -> FieldCorrection | None:
    """The student's key-data correction of ``field_key`` waiting for the admin, if any."""
    return session.scalar(
        select(FieldCorrection)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .where(Confirmation.student_id == student.id, FieldCorrection.slot == 0,
               FieldCorrection.field_key == field_key, FieldCorrection.status == PENDING)
        .order_by(FieldCorrection.id.desc())
        .limit(1)
    )


def _check_pending(correction: FieldCorrection) -> None:
    if correction.status != PENDING:
        raise InvalidTransition(Message(N_("这项更正已经处理过了")))


def approve_key_correction(
    session: Session, correction: FieldCorrection, *, actor: Actor, now: datetime | None = None
) -> None:
    """Write the key-data correction into the record; the parent is told by SMS after the commit."""
    now = now or utcnow()
    _check_pending(correction)
    student = correction.confirmation.student
    if correction.field_key == "id_number" and correction.new_value:
        taken = session.scalar(select(Student.id).where(
            Student.school_id == student.school_id, Student.id_number == correction.new_value,
            Student.id != student.id))
        if taken is not None:
            raise FieldErrors([("", Message(N_("本校已有学生使用这个身份证件号，请先核实后再处理")))])
    label = field_for(0, correction.field_key).label_zh
    apply_correction(student, correction)
    correction.status = move(correction.status, CorrectionStatus.APPLIED, CORRECTION_MOVES)
    correction.decided_by_id = actor.id
    correction.decided_at = now
    correction.decision_reason = None
    audit(session, actor, "key_correction.applied", school_id=student.school_id, target=correction,
          detail={"student_id": student.id, "field": correction.field_key}, at=now)
    session.flush()
    tell_parents(session, student, "key_data_applied", {"student_name": student.name, "field": label})


def reject_key_correction(
    session: Session,
    correction: FieldCorrection,
    reason: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Turn the key-data correction down with a reason the parent sees; the record is left as it was."""
    now = now or utcnow()
    reason = " ".join((reason or "").split())
    if not reason:
        raise FieldErrors([("reason", Message(N_("请填写不通过的原因，家长会看到这段说明")))])
    if len(reason) > MAX_REASON_LENGTH:
        raise FieldErrors([("reason", Message(N_("原因不能超过 %(n)s 字"), {"n": MAX_REASON_LENGTH}))])
    _check_pending(correction)
    student = correction.confirmation.student
    label = field_for(0, correction.field_key).label_zh
    correction.status = move(correction.status, CorrectionStatus.REJECTED, CORRECTION_MOVES)
    correction.decided_by_id = actor.id
    correction.decided_at = now
    correction.decision_reason = reason
    audit(session, actor, "key_correction.rejected", school_id=student.school_id, target=correction,
          detail={"student_id": student.id, "field": correction.field_key, "reason": reason}, at=now)
    session.flush()
    tell_parents(session, student, "key_data_rejected", {
        "student_name": student.name, "field": label, "link": public_url(session, f"/parent/students/{student.id}")})


# --- a correction the school turned down: the family sends a new proof, or withdraws it ------------------------


def returned_corrections(session: Session, confirmation: Confirmation | None) -> list[FieldCorrection]:
    """The confirmation's key-data corrections the school turned down and the family has not answered yet."""
    if confirmation is None:
        return []
    return [c for c in confirmation.corrections if c.status == CorrectionStatus.REJECTED]


def returned_correction_for(session: Session, confirmation: Confirmation | None,
                            field_key: str) -> FieldCorrection | None:
    """The turned-down correction of ``field_key`` (slot 0), if it waits for the family."""
    return next((c for c in returned_corrections(session, confirmation) if c.field_key == field_key), None)


def resubmit_key_correction(session: Session, correction: FieldCorrection, upload, *, store, actor: Actor,
                            now: datetime | None = None) -> None:
    """The family sends a new proof for a turned-down correction: it goes back to the school admin's queue."""
    from confirm.services.proofs import add_proof, proofs_of

    now = now or utcnow()
    if correction.status != CorrectionStatus.REJECTED:
        raise InvalidTransition(Message(N_("这项更正已经处理过了")))
    if any(p.sha256 == upload.sha256 for p in proofs_of(session, correction.confirmation)):
        raise FieldErrors([("proof", Message(N_("这份材料已经上传过，请上传新的证明材料")))])
    proof = add_proof(session, correction.confirmation, upload, store=store, actor=actor)
    correction.status = move(correction.status, CorrectionStatus.PENDING_ADMIN, CORRECTION_MOVES).value
    correction.decided_at = None
    correction.decided_by_id = None  # decision_reason stays: the admin sees why it was turned down last time
    student = correction.confirmation.student
    audit(session, actor, "key_correction.resubmitted", school_id=student.school_id, target=correction, at=now,
          detail={"student_id": student.id, "field": correction.field_key, "file_id": proof.id})
    session.flush()


def withdraw_key_correction(session: Session, correction: FieldCorrection, *, actor: Actor,
                            now: datetime | None = None) -> None:
    """The family withdraws a turned-down correction: the record keeps its value, nothing waits any more."""
    now = now or utcnow()
    if correction.status != CorrectionStatus.REJECTED:
        raise InvalidTransition(Message(N_("这项更正已经处理过了")))
    correction.status = move(correction.status, CorrectionStatus.WITHDRAWN, CORRECTION_MOVES).value
    student = correction.confirmation.student
    audit(session, actor, "key_correction.withdrawn", school_id=student.school_id, target=correction, at=now,
          detail={"student_id": student.id, "field": correction.field_key})
    session.flush()
