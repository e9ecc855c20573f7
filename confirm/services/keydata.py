"""Decisions on key-data corrections (姓名, 性别, 出生日期, 民族, 身份证件类型, 身份证件号).

The head teacher's approval covers the signed sheet only; a key-data correction then waits (``pending_admin``)
until the school admin has compared it with the proof documents and applies or rejects it. When the campaign needs
the district's approval (``Campaign.key_data_needs_district``, the national system's 关键数据变更核办), the admin's
approval passes it on with the school's opinion (``pending_district``) and a supervisor of the school's district
applies or rejects it. The district's decision is one conditional UPDATE: of two supervisors deciding at once, one
wins and the other is told it was already decided.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, InvalidTransition
from confirm.fields import field_for
from confirm.i18n import N_, Message
from confirm.models import Campaign, Confirmation, FieldCorrection, School, SchoolClass, StaffUser, Student, utcnow
from confirm.services.common import Actor, audit
from confirm.services.outbox import public_url
from confirm.services.records import apply_correction
from confirm.services.review import tell_parents
from confirm.states import CORRECTION_MOVES, CorrectionStatus, move
from confirm.validation import id_number_disagreements

PENDING = CorrectionStatus.PENDING_ADMIN.value
PENDING_DISTRICT = CorrectionStatus.PENDING_DISTRICT.value
MAX_REASON_LENGTH = 500
# What the family and the head teacher read beside a key-data correction once the sheet has been passed on.
OUTCOME_LABELS = {CorrectionStatus.PENDING_ADMIN: N_("待学校审核"),
                  CorrectionStatus.PENDING_DISTRICT: N_("学校已审核，待主管部门核办"),
                  CorrectionStatus.APPLIED: N_("已生效"),
                  CorrectionStatus.REJECTED: N_("未通过"), CorrectionStatus.WITHDRAWN: N_("已撤回")}
SCHOOL, DISTRICT = "学校", "主管部门"  # who decided, in the key_data_applied / key_data_rejected messages
# The resident ID number carries the birth date and the gender: corrections of these are decided so that the record
# never ends with an ID number that disagrees with them.
LINKED_KEYS = ("id_type", "id_number", "birth_date", "gender")


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


def _check_id_number_free(session: Session, student: Student, correction: FieldCorrection) -> None:
    if correction.field_key == "id_number" and correction.new_value:
        taken = session.scalar(select(Student.id).where(
            Student.school_id == student.school_id, Student.id_number == correction.new_value,
            Student.id != student.id))
        if taken is not None:
            raise FieldErrors([("", Message(N_("本校已有学生使用这个身份证件号，请先核实后再处理")))])


def decided_together(session: Session, correction: FieldCorrection) -> list[FieldCorrection]:
    """The corrections applying ``correction`` takes: itself, or — when the record would then disagree with itself
    (an ID number's birth date or gender against the record's) — itself with the student's other linked corrections
    waiting at the same step, if together they agree. Raises FieldErrors naming the disagreement otherwise."""
    if correction.slot != 0 or correction.field_key not in LINKED_KEYS:
        return [correction]
    student = correction.confirmation.student
    values = {key: student.value(key) or "" for key in LINKED_KEYS}
    alone = {**values, correction.field_key: correction.new_value or ""}
    if not id_number_disagreements(alone):
        return [correction]
    partners = list(session.scalars(select(FieldCorrection).where(
        FieldCorrection.confirmation_id == correction.confirmation_id, FieldCorrection.slot == 0,
        FieldCorrection.field_key.in_(LINKED_KEYS), FieldCorrection.status == correction.status,
        FieldCorrection.id != correction.id).order_by(FieldCorrection.id)))
    together = {**alone, **{p.field_key: p.new_value or "" for p in partners}}
    if partners and not id_number_disagreements(together):
        return sorted([correction, *partners], key=lambda c: c.id)  # one order of row locks for every decider
    problem = id_number_disagreements(together if partners else alone)[0]
    raise FieldErrors([("", Message(N_(
        "通过这项更正后，%(problem)s。身份证件号、出生日期和性别要一起核对：请一并处理这名学生的相关更正，"
        "或不通过这一项"), {"problem": problem}))])


def _clean_text(text: str | None, field: str) -> str:
    text = " ".join((text or "").split())
    if len(text) > MAX_REASON_LENGTH:
        raise FieldErrors([(field, Message(N_("不能超过 %(n)s 字"), {"n": MAX_REASON_LENGTH}))])
    return text


def approve_key_correction(
    session: Session, correction: FieldCorrection, *, actor: Actor, opinion: str | None = None,
    now: datetime | None = None
) -> list[FieldCorrection]:
    """The school admin's approval: the change is written into the record (the parent is told by SMS after the
    commit) — or, when the campaign needs the district's approval, passed on to the district with ``opinion``.
    Returns the corrections decided (with their linked ones, see ``decided_together``)."""
    now = now or utcnow()
    _check_pending(correction)
    student = correction.confirmation.student
    _check_id_number_free(session, student, correction)
    taken = decided_together(session, correction)  # passed on together, as they will be applied together
    if correction.confirmation.campaign.key_data_needs_district:
        for each in taken:
            _pass_to_district(session, each, student, opinion=_clean_text(opinion, "opinion"), actor=actor, now=now)
        return taken
    for each in taken:
        _check_id_number_free(session, student, each)
        apply_correction(student, each)
        each.status = move(each.status, CorrectionStatus.APPLIED, CORRECTION_MOVES)
        each.decided_by_id = actor.id
        each.decided_at = now
        each.decision_reason = None
        audit(session, actor, "key_correction.applied", school_id=student.school_id, target=each,
              detail={"student_id": student.id, "field": each.field_key,
                      **({"with": correction.id} if each is not correction else {})}, at=now)
    session.flush()
    label = "、".join(field_for(0, each.field_key).label_zh for each in taken)
    tell_parents(session, student, "key_data_applied", {"student_name": student.name, "field": label,
                                                        "decider": SCHOOL})
    return taken


def _pass_to_district(session: Session, correction: FieldCorrection, student: Student, *, opinion: str,
                      actor: Actor, now: datetime) -> None:
    district_id = session.scalar(select(School.district_id).where(School.id == student.school_id))
    if district_id is None:
        raise FieldErrors([("", Message(N_(
            "本次核查要求关键数据变更报主管部门核办，但本校还没有归属主管部门，请联系平台管理员")))])
    correction.status = move(correction.status, CorrectionStatus.PENDING_DISTRICT, CORRECTION_MOVES).value
    correction.school_opinion = opinion or None
    correction.school_passed_by_id = actor.id
    correction.school_passed_at = now
    correction.district_id = district_id
    correction.decision_reason = None
    # sent again after a district's refusal: the earlier decision is history (in the audit), not this round's
    correction.district_decided_at = correction.district_decided_by_id = None
    correction.decided_at = correction.decided_by_id = None
    audit(session, actor, "key_correction.passed_to_district", school_id=student.school_id, target=correction,
          detail={"student_id": student.id, "field": correction.field_key, "district_id": district_id}, at=now)
    session.flush()


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
        "student_name": student.name, "field": label, "link": public_url(session, f"/parent/students/{student.id}"),
        "decider": SCHOOL})


# --- the district's 核办 -------------------------------------------------------------------------------------


def set_district_approval(session: Session, campaign: Campaign, required: bool, *, actor: Actor,
                          now: datetime | None = None) -> bool:
    """The supervisor decides whether the school's campaign sends key-data changes to the district (True) or ends
    them at the school admin (False). Changes already passed on stay with the district. Returns whether it changed."""
    if campaign.key_data_needs_district == required:
        return False
    campaign.key_data_needs_district = required
    audit(session, actor, "campaign.key_data_district_set", school_id=campaign.school_id, target=campaign,
          detail={"required": required}, at=now or utcnow())
    session.flush()
    return True


def _in_district(district_id: int):
    from confirm.services.districts import subtree_select

    return Student.school_id.in_(select(School.id).where(School.district_id.in_(subtree_select(district_id))))


def district_queue(session: Session, district_id: int) -> list[FieldCorrection]:
    """Key-data changes waiting for the district: of every school now in it or below it, oldest first."""
    return list(session.scalars(
        select(FieldCorrection)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(FieldCorrection.status == PENDING_DISTRICT, _in_district(district_id))
        .order_by(FieldCorrection.school_passed_at, FieldCorrection.id)
    ))


def district_case(session: Session, district_id: int, correction_id: int) -> FieldCorrection | None:
    """The open key-data case ``correction_id`` when it waits for this district; None otherwise."""
    return session.scalar(
        select(FieldCorrection)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(FieldCorrection.id == correction_id, FieldCorrection.status == PENDING_DISTRICT,
               _in_district(district_id))
    )


def district_decided(session: Session, district_id: int, limit: int = 50) -> list[FieldCorrection]:
    """The district's own decisions, newest first (kept when the school later moves to another district)."""
    from confirm.services.districts import subtree_select

    return list(session.scalars(
        select(FieldCorrection)
        .where(FieldCorrection.district_id.in_(subtree_select(district_id)),
               FieldCorrection.district_decided_at.is_not(None))
        .order_by(FieldCorrection.district_decided_at.desc(), FieldCorrection.id.desc()).limit(limit)
    ))


def district_case_for_confirmation(session: Session, district_id: int, confirmation_id: int) -> bool:
    """True when the confirmation has a key-data case waiting for this district (its documents may be shown)."""
    return session.scalar(
        select(FieldCorrection.id)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(FieldCorrection.confirmation_id == confirmation_id, FieldCorrection.status == PENDING_DISTRICT,
               _in_district(district_id)).limit(1)
    ) is not None


def decided_by_district(session: Session, district_id: int, correction_id: int) -> FieldCorrection | None:
    """The correction when this district (or one below it) has decided it; None otherwise."""
    from confirm.services.districts import subtree_select

    return session.scalar(select(FieldCorrection).where(
        FieldCorrection.id == correction_id, FieldCorrection.district_decided_at.is_not(None),
        FieldCorrection.district_id.in_(subtree_select(district_id))))


def _claim(session: Session, correction: FieldCorrection, target: CorrectionStatus, *, supervisor: StaffUser,
           reason: str | None, now: datetime) -> None:
    """Move the case from pending_district to ``target`` in one conditional UPDATE: only one decision wins."""
    move(PENDING_DISTRICT, target, CORRECTION_MOVES)  # the table allows it; the UPDATE makes it happen once
    won = session.execute(
        update(FieldCorrection)
        .where(FieldCorrection.id == correction.id, FieldCorrection.status == PENDING_DISTRICT)
        .values(status=target.value, district_id=supervisor.district_id, district_decided_by_id=supervisor.id,
                district_decided_at=now, decided_by_id=supervisor.id, decided_at=now, decision_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise InvalidTransition(Message(N_("这项关键数据变更已经由其他人核办过了，请刷新页面查看结果")))
    session.refresh(correction)


def district_approve(session: Session, correction: FieldCorrection, *, supervisor: StaffUser, actor: Actor,
                     now: datetime | None = None) -> list[FieldCorrection]:
    """The district approves the change: it is written into the record; the family is told after the commit.
    Returns the corrections applied (with their linked ones)."""
    now = now or utcnow()
    student = correction.confirmation.student
    _check_id_number_free(session, student, correction)
    taken = decided_together(session, correction)
    for each in taken:
        _check_id_number_free(session, student, each)
        _claim(session, each, CorrectionStatus.APPLIED, supervisor=supervisor, reason=None, now=now)
        apply_correction(student, each)
        audit(session, actor, "key_correction.district_applied", school_id=student.school_id, target=each, at=now,
              detail={"student_id": student.id, "field": each.field_key, "district_id": supervisor.district_id,
                      **({"with": correction.id} if each is not correction else {})})
    session.flush()
    tell_parents(session, student, "key_data_applied", {
        "student_name": student.name, "field": "、".join(field_for(0, each.field_key).label_zh for each in taken),
        "decider": DISTRICT})
    return taken


def district_reject(session: Session, correction: FieldCorrection, reason: str, *, supervisor: StaffUser,
                    actor: Actor, now: datetime | None = None) -> None:
    """The district turns the change down with a reason (required; the family reads it); the record is unchanged."""
    now = now or utcnow()
    reason = " ".join((reason or "").split())
    if not reason:
        raise FieldErrors([("reason", Message(N_("请填写不通过的原因，学校和家长会看到这段说明")))])
    if len(reason) > MAX_REASON_LENGTH:
        raise FieldErrors([("reason", Message(N_("原因不能超过 %(n)s 字"), {"n": MAX_REASON_LENGTH}))])
    student = correction.confirmation.student
    _claim(session, correction, CorrectionStatus.REJECTED, supervisor=supervisor, reason=reason, now=now)
    audit(session, actor, "key_correction.district_rejected", school_id=student.school_id, target=correction,
          at=now, detail={"student_id": student.id, "field": correction.field_key, "reason": reason,
                          "district_id": supervisor.district_id})
    session.flush()
    tell_parents(session, student, "key_data_rejected", {
        "student_name": student.name, "field": field_for(0, correction.field_key).label_zh,
        "link": public_url(session, f"/parent/students/{student.id}"), "decider": DISTRICT})


def district_decisions_for_school(session: Session, school_id: int, limit: int = 30) -> list[FieldCorrection]:
    """The district's recent decisions on the school's key-data changes, for the school admin's page."""
    return list(session.scalars(
        select(FieldCorrection)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(Student.school_id == school_id, FieldCorrection.district_decided_at.is_not(None))
        .order_by(FieldCorrection.district_decided_at.desc(), FieldCorrection.id.desc()).limit(limit)
    ))


def waiting_for_district(session: Session, school_id: int) -> list[FieldCorrection]:
    """The school's key-data changes the admin passed on, still waiting for the district."""
    return list(session.scalars(
        select(FieldCorrection)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(Student.school_id == school_id, FieldCorrection.status == PENDING_DISTRICT)
        .order_by(FieldCorrection.school_passed_at, FieldCorrection.id)
    ))


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
