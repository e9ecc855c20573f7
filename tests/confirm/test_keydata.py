"""Key-data corrections: proof documents, the head teacher's limits, the school admin's decision, bulk approval."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from confirm.errors import FieldErrors, InvalidTransition
from confirm.models import AuditEvent, Confirmation, FieldCorrection, School, Student
from confirm.services import keydata, proofs, records, review, review_queue
from confirm.services.common import Actor
from confirm.services.files import record_file
from tests.factories import make_campaign, make_class, make_parent, make_school, make_staff, make_student
from tests.fakes import MemoryStore, SentMessages


@pytest.fixture
def env(session):
    school = make_school(session)
    campaign = make_campaign(session, school)
    teacher = make_staff(session, school)
    admin = make_staff(session, school, role="school_admin")
    school_class = make_class(session, school, teacher)
    student = make_student(session, school_class)
    parent = make_parent(session, student, phone="13800000009")
    session.commit()
    return {"campaign": campaign, "teacher": Actor("staff", teacher.id), "admin": Actor("staff", admin.id),
            "class": school_class, "student": student, "parent": Actor("parent", parent.id), "phone": parent.phone}


def sheet(session, student, actor, quality=None):
    stored = record_file(session, student, kind="sheet", storage_key=f"sheet/{uuid.uuid4().hex}.jpg",
                         sha256=uuid.uuid4().hex * 2, content_type="image/jpeg", size_bytes=1000, width=800,
                         height=600, actor=actor)
    stored.quality = quality or {"sharpness": 200.0}
    return stored


def hand_in(session, env, entries=None, *, student=None, proof=False, quality=None) -> Confirmation:
    student = student or env["student"]
    confirmation = records.ensure_confirmation(session, env["campaign"], student)
    if entries:
        records.save_corrections(session, confirmation, entries, actor=env["parent"])
    if proof:
        proofs.add_proof(session, confirmation, proofs.ProofUpload(b"%PDF-1.4 x %%EOF", "ab" * 32, "application/pdf"),
                         store=MemoryStore(), actor=env["parent"])
    review.submit_confirmation(session, confirmation, sheet(session, student, env["parent"], quality),
                               actor=env["parent"])
    session.commit()
    return confirmation


def test_teacher_cannot_approve_a_key_data_correction_without_a_proof_document(session, env):
    confirmation = hand_in(session, env, {(0, "name"): "新名字"})
    with pytest.raises(FieldErrors, match="证明材料"):
        review.approve_confirmation(session, confirmation, actor=env["teacher"])
    assert confirmation.state == "submitted"


def test_with_a_proof_the_teachers_approval_passes_key_data_on_to_the_admin(session, env):
    confirmation = hand_in(session, env, {(0, "name"): "新名字"}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env["teacher"])
    session.commit()
    assert confirmation.state == "approved"
    assert [c.status for c in confirmation.corrections] == ["pending_admin"]
    assert [c.field_key for c in keydata.pending_corrections(session, env["student"].school_id)] == ["name"]
    assert keydata.count_pending(session, env["student"].school_id) == 1


def test_add_proof_stores_the_object_once_and_refuses_after_submission(session, env):
    store = MemoryStore()
    confirmation = records.ensure_confirmation(session, env["campaign"], env["student"])
    upload = proofs.ProofUpload(b"jpeg", "cd" * 32, "image/jpeg", thumbnail=b"thumb", width=10, height=10)
    first = proofs.add_proof(session, confirmation, upload, store=store, actor=env["parent"])
    again = proofs.add_proof(session, confirmation, upload, store=store, actor=env["parent"])
    assert first.id == again.id and len(store.objects) == 2  # photo and thumbnail, once
    assert first.storage_key.startswith(f"proof/{env['student'].school_id}/") and first.thumbnail_key
    review.submit_confirmation(session, confirmation, sheet(session, env["student"], env["parent"]),
                               actor=env["parent"])
    with pytest.raises(InvalidTransition):
        proofs.add_proof(session, confirmation, proofs.ProofUpload(b"x", "ef" * 32, "image/jpeg"), store=store,
                         actor=env["parent"])


def test_admin_approval_writes_the_key_data_into_the_record_and_texts_the_parent(session, env):
    confirmation = hand_in(session, env, {(0, "name"): "新名字"}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env["teacher"])
    correction = confirmation.corrections[0]
    outbox = SentMessages(session)
    keydata.approve_key_correction(session, correction, actor=env["admin"])
    assert outbox.sent == []  # only after the commit
    session.commit()
    student = session.get(Student, env["student"].id)
    assert student.name == "新名字" and student.value("name") == "新名字"
    assert (correction.status, correction.decided_by_id) == ("applied", env["admin"].id)
    assert correction.decided_at is not None
    assert [p for p, _t in outbox.sent] == [env["phone"]] and "通过" in outbox.sent[0][1]
    assert "key_correction.applied" in session.scalars(select(AuditEvent.action)).all()
    with pytest.raises(InvalidTransition):
        keydata.reject_key_correction(session, correction, "晚了", actor=env["admin"])



def born_a_day_later(session, env) -> tuple[Confirmation, str, str]:
    """The family corrects the birth date one day later, and the ID number to match it (both with proof)."""
    from datetime import date, timedelta

    from confirm.validation import make_resident_id

    student = env["student"]
    later = date.fromisoformat(student.value("birth_date")) + timedelta(days=1)
    new_id = make_resident_id(student.value("id_number")[:6], later, 203, student.value("gender"))
    confirmation = hand_in(session, env, {(0, "birth_date"): f"{later:%Y%m%d}", (0, "id_number"): new_id}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env["teacher"])
    session.commit()
    return confirmation, f"{later:%Y%m%d}", new_id


def test_approving_the_id_number_takes_the_birth_date_it_carries_with_it(session, env):
    confirmation, birth, new_id = born_a_day_later(session, env)
    by_key = {c.field_key: c for c in confirmation.corrections}
    outbox = SentMessages(session)
    keydata.approve_key_correction(session, by_key["id_number"], actor=env["admin"])
    session.commit()
    student = session.get(Student, env["student"].id)
    assert (student.value("birth_date"), student.value("id_number")) == (birth, new_id)
    assert {c.status for c in confirmation.corrections} == {"applied"}
    assert len(outbox.sent) == 1 and "出生日期" in outbox.sent[0][1] and "身份证件号" in outbox.sent[0][1]


def test_the_birth_date_alone_is_refused_once_the_id_number_that_carries_it_was_turned_down(session, env):
    confirmation, _birth, _new_id = born_a_day_later(session, env)
    by_key = {c.field_key: c for c in confirmation.corrections}
    before = (env["student"].value("birth_date"), env["student"].value("id_number"))
    keydata.reject_key_correction(session, by_key["id_number"], "证件复印件看不清", actor=env["admin"])
    session.commit()
    with pytest.raises(FieldErrors, match="身份证号中的出生日期") as refused:
        keydata.approve_key_correction(session, by_key["birth_date"], actor=env["admin"])
    assert "一并处理" in refused.value.errors[0][1].text
    session.rollback()
    student = session.get(Student, env["student"].id)
    assert (student.value("birth_date"), student.value("id_number")) == before
    assert by_key["birth_date"].status == "pending_admin"  # the admin may still turn it down


def test_with_the_districts_approval_the_id_number_and_its_birth_date_go_on_and_come_back_together(session, env):
    from tests.factories import make_district, make_supervisor

    district = make_district(session, session.get(School, env["student"].school_id))
    supervisor = make_supervisor(session, district)
    env["campaign"].key_data_needs_district = True
    session.commit()
    confirmation, birth, new_id = born_a_day_later(session, env)
    by_key = {c.field_key: c for c in confirmation.corrections}

    keydata.approve_key_correction(session, by_key["id_number"], actor=env["admin"], opinion="与户口簿一致")
    session.commit()
    assert {c.status for c in confirmation.corrections} == {"pending_district"}
    keydata.district_approve(session, by_key["birth_date"], supervisor=supervisor, actor=Actor("staff", supervisor.id))
    session.commit()
    student = session.get(Student, env["student"].id)
    assert (student.value("birth_date"), student.value("id_number")) == (birth, new_id)
    assert {c.status for c in confirmation.corrections} == {"applied"}

def test_admin_rejection_needs_a_reason_and_leaves_the_record_alone(session, env):
    confirmation = hand_in(session, env, {(0, "ethnicity"): "06"}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env["teacher"])
    correction = confirmation.corrections[0]
    outbox = SentMessages(session)
    with pytest.raises(FieldErrors):
        keydata.reject_key_correction(session, correction, "   ", actor=env["admin"])
    keydata.reject_key_correction(session, correction, "户口簿上是汉族", actor=env["admin"])
    session.commit()
    assert (correction.status, correction.decision_reason) == ("rejected", "户口簿上是汉族")
    assert session.get(Student, env["student"].id).value("ethnicity") == "01"
    assert len(outbox.sent) == 1 and env["student"].id_number not in outbox.sent[0][1]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "key_correction.rejected"))
    assert event.detail["reason"] == "户口簿上是汉族" and event.detail["field"] == "ethnicity"


def test_bulk_approval_takes_only_uncorrected_submissions_whose_photo_passed_the_gate(session, env):
    school_class = env["class"]
    plain, corrected, overridden = env["student"], make_student(session, school_class), make_student(session,
                                                                                                    school_class)
    hand_in(session, env, student=plain)
    hand_in(session, env, {(0, "current_address"): "贵阳市新地址8号"}, student=corrected)
    hand_in(session, env, student=overridden, quality={"override_reason": "照片偏暗但能看清"})
    eligible = review_queue.bulk_approvable(session, school_class.id, env["campaign"].id)
    assert [c.student_id for c in eligible] == [plain.id]
    assert review_queue.bulk_approve(session, eligible, actor=env["teacher"]) == 1
    session.commit()
    states = dict(session.execute(select(Confirmation.student_id, Confirmation.state)).all())
    assert states == {plain.id: "approved", corrected.id: "submitted", overridden.id: "submitted"}
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("confirmation.approved") == 1 and "confirmation.bulk_approved" in actions


def test_queue_order_and_the_next_submission_after_a_decision(session, env):
    others = [make_student(session, env["class"]) for _ in range(2)]
    for s in (env["student"], *others):
        hand_in(session, env, student=s)
    queue = review_queue.submitted_in_order(session, env["class"].id, env["campaign"].id)
    assert queue == [env["student"].id, others[0].id, others[1].id]
    middle = review_queue.position_in(queue, others[0].id)
    assert (middle.index, middle.total, middle.previous_id, middle.next_id) == (2, 3, env["student"].id, others[1].id)
    assert review_queue.next_after(queue, others[1].id, queue[:2]) == env["student"].id  # wraps to what is left
    assert review_queue.next_after(queue, env["student"].id, queue[1:]) == others[0].id
    assert review_queue.next_after(queue, others[0].id, []) is None


def test_verdicts_mark_good_values_and_report_a_mismatched_id_number(session, env):
    student = env["student"]
    good = FieldCorrection(slot=0, field_key="current_address", new_value="贵阳市新地址8号")
    bad_birth = FieldCorrection(slot=0, field_key="birth_date", new_value="20150101")
    verdicts = review_queue.correction_verdicts(student, [good, bad_birth])
    assert verdicts[(0, "current_address")].is_ok
    assert not verdicts[(0, "birth_date")].is_ok
    assert verdicts[(0, "birth_date")].errors


# --- the loop closes: a turned-down correction is answered by the family ---------------------------------------


def turned_down(session, env) -> FieldCorrection:
    confirmation = hand_in(session, env, {(0, "ethnicity"): "06"}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env["teacher"])
    correction = confirmation.corrections[0]
    keydata.reject_key_correction(session, correction, "户口簿上是汉族", actor=env["admin"])
    session.commit()
    return correction


def stage_now(session, env):
    from confirm.services.stats import students_with_stage

    return dict((s.id, st) for s, st in students_with_stage(session, env["class"].id, env["campaign"].id))[
        env["student"].id]


def test_a_turned_down_correction_is_a_stage_of_its_own_until_the_family_answers(session, env):
    from confirm.states import Stage

    correction = turned_down(session, env)
    assert stage_now(session, env) == Stage.KEY_RETURNED
    assert keydata.returned_corrections(session, correction.confirmation) == [correction]
    keydata.withdraw_key_correction(session, correction, actor=env["parent"])
    session.commit()
    assert stage_now(session, env) == Stage.APPROVED


def test_a_new_proof_sends_the_correction_back_to_the_admin_who_may_approve_it(session, env):
    correction = turned_down(session, env)
    keydata.resubmit_key_correction(session, correction, proofs.ProofUpload(b"new proof", "cd" * 32, "image/jpeg"),
                                    store=MemoryStore(), actor=env["parent"])
    session.commit()
    assert correction.status == "pending_admin" and correction.decision_reason == "户口簿上是汉族"  # the last why
    assert len(proofs.proofs_of(session, correction.confirmation)) == 2
    assert keydata.pending_corrections(session, env["student"].school_id) == [correction]
    keydata.approve_key_correction(session, correction, actor=env["admin"])
    session.commit()
    assert session.get(Student, env["student"].id).value("ethnicity") == "06"
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("key_correction.resubmitted") == 1 and actions[-1] == "key_correction.applied"


def test_the_same_proof_again_is_refused_and_nothing_changes(session, env):
    correction = turned_down(session, env)
    with pytest.raises(FieldErrors, match="请上传新的证明材料"):
        keydata.resubmit_key_correction(session, correction,
                                        proofs.ProofUpload(b"%PDF-1.4 x %%EOF", "ab" * 32, "application/pdf"),
                                        store=MemoryStore(), actor=env["parent"])
    session.rollback()
    assert session.get(FieldCorrection, correction.id).status == "rejected"


def test_a_withdrawn_correction_leaves_the_record_and_cannot_be_answered_twice(session, env):
    correction = turned_down(session, env)
    keydata.withdraw_key_correction(session, correction, actor=env["parent"])
    session.commit()
    assert correction.status == "withdrawn"
    assert session.get(Student, env["student"].id).value("ethnicity") == "01"
    with pytest.raises(InvalidTransition):
        keydata.withdraw_key_correction(session, correction, actor=env["parent"])
    with pytest.raises(InvalidTransition):
        keydata.resubmit_key_correction(session, correction, proofs.ProofUpload(b"x", "ef" * 32, "image/jpeg"),
                                        store=MemoryStore(), actor=env["parent"])
