"""The use cases of confirm/services on a real database session, without Flask.

Services flush and never commit; side effects (SMS) run only after the caller commits. Staff and parent
rows here carry a placeholder password hash where nobody logs in, so that the file stays fast.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from confirm.clock import local_today
from confirm.errors import DomainError, FieldErrors, InvalidTransition, RecordedRefusal
from confirm.models import (
    AuditEvent,
    Campaign,
    Confirmation,
    ConfirmationEvent,
    FieldCorrection,
    Guardianship,
    ParentAccount,
    RegistrationCode,
    SchoolClass,
    SmsChallenge,
    StaffUser,
    Student,
    utcnow,
)
from confirm.privacy import NOTICE_VERSION
from confirm.security import new_nonce
from confirm.services import login as login_service
from confirm.services import records, review, stats
from confirm.services.common import Actor
from confirm.services.files import record_file
from confirm.services.registration import (
    RegistrationStart,
    complete_registration,
    issue_code,
    start_registration,
)
from confirm.services.sms_codes import send_challenge
from confirm.states import Stage, State
from confirm.validation import make_resident_id
from tests.factories import make_campaign, make_class, make_school, make_student
from tests.fakes import SentMessages


@dataclass
class Env:
    school: object
    campaign: Campaign
    teacher: StaffUser
    school_class: SchoolClass
    student: Student  # has a parent
    parent: ParentAccount

    @property
    def by_parent(self) -> Actor:
        return Actor("parent", self.parent.id)

    @property
    def by_teacher(self) -> Actor:
        return Actor("staff", self.teacher.id)


_phones = iter(range(10_000_000, 99_999_999))


def add_staff(session, school) -> StaffUser:
    user = StaffUser(school_id=school.id, username=f"t{uuid.uuid4().hex[:8]}", display_name="班主任",
                     role="head_teacher", password_hash="not-used", session_nonce=new_nonce())
    session.add(user)
    session.flush()
    return user


def add_parent(session, *students: Student, phone: str | None = None) -> ParentAccount:
    parent = ParentAccount(phone=phone or f"137{next(_phones)}", platform_no=str(next(_phones)),
                           password_hash="not-used", session_nonce=new_nonce())
    session.add(parent)
    session.flush()
    for student in students:
        session.add(Guardianship(parent_id=parent.id, student_id=student.id))
    session.flush()
    return parent


def add_sheet(session, student: Student, actor: Actor):
    return record_file(session, student, kind="sheet", storage_key=f"sheet/{uuid.uuid4().hex}.jpg",
                       sha256=uuid.uuid4().hex * 2, content_type="image/jpeg", size_bytes=1000, width=800,
                       height=600, actor=actor)


@pytest.fixture
def env(session) -> Env:
    school = make_school(session)
    campaign = make_campaign(session, school)
    teacher = add_staff(session, school)
    school_class = make_class(session, school, teacher)
    student = make_student(session, school_class)
    parent = add_parent(session, student, phone="13800000001")
    session.commit()
    return Env(school, campaign, teacher, school_class, student, parent)


def confirmation_of(session, env: Env, student: Student | None = None) -> Confirmation:
    return records.ensure_confirmation(session, env.campaign, student or env.student)


def submitted(session, env: Env, entries=None, student: Student | None = None) -> Confirmation:
    """A confirmation with ``entries`` corrected and handed in with a sheet photo."""
    student = student or env.student
    confirmation = confirmation_of(session, env, student)
    if entries:
        records.save_corrections(session, confirmation, entries, actor=env.by_parent)
    review.submit_confirmation(session, confirmation, add_sheet(session, student, env.by_parent),
                               actor=env.by_parent)
    return confirmation


def corrections(session) -> dict[tuple[int, str], FieldCorrection]:
    return {(c.slot, c.field_key): c for c in session.scalars(select(FieldCorrection))}


def actions(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# ---------------------------------------------------------------------------------------------------
# save_corrections


def test_corrections_are_cleaned_and_stored_as_drafts_beside_the_old_value(session, env):
    confirmation = confirmation_of(session, env)
    result = records.save_corrections(
        session, confirmation,
        {(0, "current_address"): " 贵阳市　新地址８号 ", (1, "phone"): "139 1111 2222", (0, "postcode"): ""},
        actor=env.by_parent,
    )
    session.commit()
    assert (result.saved, result.removed, result.warnings) == (2, 0, [])
    rows = corrections(session)
    assert set(rows) == {(0, "current_address"), (1, "phone")}
    address = rows[(0, "current_address")]
    assert (address.old_value, address.new_value) == ("贵阳市测试路1号", "贵阳市 新地址8号")
    assert address.status == "draft" and address.is_key_data is False
    assert (address.requested_by_kind, address.requested_by_id) == ("parent", env.parent.id)
    assert (rows[(1, "phone")].old_value, rows[(1, "phone")].new_value) == ("13900002222", "13911112222")
    assert env.student.value("current_address") == "贵阳市测试路1号"  # the record waits for the review



def test_a_wrong_birth_date_and_a_wrong_id_check_digit_are_both_told_at_once(session, env):
    """The parent hears of every problem in one try; the check between the two waits for a birth date it can read."""
    confirmation = confirmation_of(session, env)
    good = env.student.value("id_number")
    wrong_digit = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(FieldErrors) as refused:
        records.save_corrections(session, confirmation, {(0, "birth_date"): "20300101", (0, "id_number"): wrong_digit},
                                 actor=env.by_parent)
    by_field = {name: message.text for name, message in refused.value.errors}
    assert set(by_field) == {"c0-birth_date", "c0-id_number"}, by_field
    assert "晚于今天" in by_field["c0-birth_date"] and "校验位" in by_field["c0-id_number"]
    assert corrections(session) == {}

def test_a_value_equal_to_the_record_is_not_a_correction(session, env):
    confirmation = confirmation_of(session, env)
    result = records.save_corrections(
        session, confirmation,
        {(0, "ethnicity"): "汉族", (0, "current_address"): "贵阳市测试路1号",
         (1, "name"): env.student.member(1).value("name")},
        actor=env.by_parent,
    )
    assert result.saved == 0
    assert corrections(session) == {}


def test_typing_the_recorded_value_again_withdraws_an_earlier_correction(session, env):
    confirmation = confirmation_of(session, env)
    records.save_corrections(session, confirmation, {(0, "current_address"): "贵阳市新地址8号"}, actor=env.by_parent)
    result = records.save_corrections(session, confirmation, {(0, "current_address"): "贵阳市测试路1号"},
                                      actor=env.by_parent)
    assert result.removed == 1
    assert corrections(session) == {}


def test_empty_entry_withdraws_the_correction_and_keeps_the_others(session, env):
    confirmation = confirmation_of(session, env)
    records.save_corrections(session, confirmation,
                             {(0, "current_address"): "贵阳市新地址8号", (0, "postcode"): "550002"},
                             actor=env.by_parent)
    session.commit()
    result = records.save_corrections(session, confirmation, {(0, "current_address"): "  "}, actor=env.by_parent)
    session.commit()
    assert (result.saved, result.removed) == (0, 1)
    assert set(corrections(session)) == {(0, "postcode")}


def test_school_managed_field_is_refused_and_nothing_is_saved(session, env):
    confirmation = confirmation_of(session, env)
    with pytest.raises(FieldErrors) as raised:
        records.save_corrections(session, confirmation,
                                 {(0, "enroll_ym"): "202309", (0, "current_address"): "贵阳市新地址8号"},
                                 actor=env.by_parent)
    assert [name for name, _ in raised.value.errors] == ["c0-enroll_ym"]
    assert "该项由学校维护" in str(raised.value.errors[0][1])
    assert corrections(session) == {}


def test_badly_formed_value_is_refused_on_its_input(session, env):
    confirmation = confirmation_of(session, env)
    with pytest.raises(FieldErrors) as raised:
        records.save_corrections(session, confirmation, {(0, "postcode"): "5500"}, actor=env.by_parent)
    assert [name for name, _ in raised.value.errors] == ["c0-postcode"]
    assert corrections(session) == {}


def test_birth_date_that_contradicts_the_id_number_is_reported_on_the_birth_date_the_parent_changed(session, env):
    confirmation = confirmation_of(session, env)
    recorded = env.student.value("birth_date")
    other = "20150101" if recorded != "20150101" else "20150102"
    with pytest.raises(FieldErrors) as raised:
        records.save_corrections(session, confirmation, {(0, "birth_date"): other}, actor=env.by_parent)
    problems = {name: str(message) for name, message in raised.value.errors}
    assert list(problems) == ["c0-birth_date"]
    assert "不一致" in problems["c0-birth_date"] and other in problems["c0-birth_date"]
    assert env.student.id_number not in problems["c0-birth_date"]  # messages never show a whole ID number
    assert corrections(session) == {}


def test_gender_that_contradicts_the_id_number_is_reported_on_the_gender_the_parent_changed(session, env):
    confirmation = confirmation_of(session, env)
    other = "2" if env.student.value("gender") == "1" else "1"
    with pytest.raises(FieldErrors) as raised:
        records.save_corrections(session, confirmation, {(0, "gender"): other}, actor=env.by_parent)
    problems = {name: str(message) for name, message in raised.value.errors}
    assert list(problems) == ["c0-gender"] and "第17位" in problems["c0-gender"]


def test_an_id_number_that_contradicts_the_birth_date_is_reported_on_the_id_number_the_parent_changed(session, env):
    confirmation = confirmation_of(session, env)
    birth = date(2015, 5, 5)
    number = make_resident_id("520102", birth, 7, env.student.value("gender"))  # valid, but born another day
    with pytest.raises(FieldErrors) as raised:
        records.save_corrections(session, confirmation, {(0, "id_number"): number}, actor=env.by_parent)
    problems = {name: str(message) for name, message in raised.value.errors}
    assert list(problems) == ["c0-id_number"] and "20150505" in problems["c0-id_number"]


def test_birth_date_and_id_number_corrected_together_are_key_data(session, env):
    confirmation = confirmation_of(session, env)
    birth = date(2015, 7, 9)
    new_id = make_resident_id("520102", birth, 3, env.student.value("gender"))
    result = records.save_corrections(
        session, confirmation, {(0, "birth_date"): f"{birth:%Y%m%d}", (0, "id_number"): new_id}, actor=env.by_parent
    )
    assert result.saved == 2
    rows = corrections(session)
    assert rows[(0, "birth_date")].is_key_data and rows[(0, "id_number")].is_key_data


def test_consistency_warning_is_returned_and_the_correction_still_saved(session, env):
    confirmation = confirmation_of(session, env)
    result = records.save_corrections(session, confirmation, {(0, "nationality"): "美国"}, actor=env.by_parent)
    assert result.saved == 1
    assert corrections(session)[(0, "nationality")].new_value == "USA"
    assert [name for name, _ in result.warnings] == ["c0-nationality"]
    assert "中国" in str(result.warnings[0][1])


def test_warning_about_a_single_value_is_returned(session, env):
    confirmation = confirmation_of(session, env)
    result = records.save_corrections(session, confirmation, {(0, "hukou_place_code"): "520199"},
                                      actor=env.by_parent)
    assert result.saved == 1
    assert corrections(session)[(0, "hukou_place_code")].new_value == "520199000000"
    assert [name for name, _ in result.warnings] == ["c0-hukou_place_code"]
    assert "520199" in str(result.warnings[0][1])


def test_corrections_cannot_change_once_submitted(session, env):
    confirmation = submitted(session, env)
    with pytest.raises(InvalidTransition):
        records.save_corrections(session, confirmation, {(0, "postcode"): "550002"}, actor=env.by_parent)


# ---------------------------------------------------------------------------------------------------
# submit / approve / return


def test_submitting_attaches_the_sheet_and_records_the_transition(session, env):
    confirmation = submitted(session, env, {(0, "current_address"): "贵阳市新地址8号"})
    session.commit()
    assert confirmation.state == State.SUBMITTED.value
    assert confirmation.sheet_file_id is not None and confirmation.submitted_at is not None
    assert (confirmation.submitted_by_kind, confirmation.submitted_by_id) == ("parent", env.parent.id)
    assert [c.status for c in confirmation.corrections] == ["submitted"]
    event_row = session.scalar(select(ConfirmationEvent))
    assert (event_row.from_state, event_row.to_state, event_row.actor_kind) == ("open", "submitted", "parent")


def test_submitting_twice_is_an_invalid_transition(session, env):
    confirmation = submitted(session, env)
    with pytest.raises(InvalidTransition):
        review.submit_confirmation(session, confirmation, add_sheet(session, env.student, env.by_parent),
                                   actor=env.by_parent)


def test_approval_applies_ordinary_corrections_and_holds_key_data_for_the_admin(session, env):
    old_name = env.student.name
    confirmation = submitted(session, env, {
        (0, "current_address"): "贵阳市新地址8号",
        (1, "phone"): "13911112222",
        (0, "name"): "新名字",
    })
    proof = add_sheet(session, env.student, env.by_parent)  # a proof document for the name correction
    proof.kind, proof.confirmation_id = "proof", confirmation.id
    session.flush()
    review.approve_confirmation(session, confirmation, actor=env.by_teacher)
    session.commit()
    session.expire_all()
    student = session.get(Student, env.student.id)
    assert student.value("current_address") == "贵阳市新地址8号"
    assert student.member(1).value("phone") == "13911112222"
    assert student.name == old_name and student.value("name") == old_name  # key data waits for the admin
    rows = corrections(session)
    assert rows[(0, "current_address")].status == rows[(1, "phone")].status == "applied"
    assert rows[(0, "current_address")].decided_by_id == env.teacher.id
    assert rows[(0, "name")].status == "pending_admin" and rows[(0, "name")].decided_at is None
    confirmation = session.get(Confirmation, confirmation.id)
    assert confirmation.state == "approved" and confirmation.decided_by_id == env.teacher.id


def test_approving_an_open_confirmation_is_refused(session, env):
    confirmation = confirmation_of(session, env)
    with pytest.raises(InvalidTransition):
        review.approve_confirmation(session, confirmation, actor=env.by_teacher)
    assert confirmation.state == "open"


@pytest.mark.parametrize("reason", ["", "   \n ", "长" * 501])
def test_return_needs_a_reason_of_sensible_length(session, env, reason):
    confirmation = submitted(session, env)
    session.commit()
    notifier = SentMessages(session)
    with pytest.raises(FieldErrors) as raised:
        review.return_confirmation(session, confirmation, reason, actor=env.by_teacher)
    assert raised.value.errors[0][0] == "reason"
    assert "退回原因" in str(raised.value.errors[0][1])
    session.commit()
    assert confirmation.state == "submitted"
    assert session.scalar(select(func.count()).select_from(ConfirmationEvent)) == 1  # only the submission
    assert notifier.sent == []


def test_return_records_the_reason_and_texts_the_parent_only_after_commit(session, env):
    confirmation = submitted(session, env, {(0, "current_address"): "贵阳市新地址8号"})
    session.commit()
    notifier = SentMessages(session)
    review.return_confirmation(session, confirmation, "照片不清楚，\n请重新拍照", actor=env.by_teacher)
    assert notifier.sent == []  # nothing leaves before the decision is saved
    session.commit()
    assert len(notifier.sent) == 1
    phone, message = notifier.sent[0]
    assert phone == env.parent.phone
    assert "退回" in message and env.student.name[1:] in message
    assert env.student.id_number not in message and env.student.id_number[-6:] not in message
    assert confirmation.state == "returned"
    assert confirmation.return_reason == "照片不清楚， 请重新拍照"
    assert [c.status for c in confirmation.corrections] == ["draft"]  # the parent may edit them again
    last = session.scalars(select(ConfirmationEvent).order_by(ConfirmationEvent.id.desc())).first()
    assert (last.from_state, last.to_state, last.note) == ("submitted", "returned", "照片不清楚， 请重新拍照")
    assert (last.actor_kind, last.actor_id) == ("staff", env.teacher.id)


def test_rolled_back_return_sends_nothing(session, env):
    confirmation = submitted(session, env)
    session.commit()
    notifier = SentMessages(session)
    review.return_confirmation(session, confirmation, "请重新拍照", actor=env.by_teacher)
    session.rollback()
    session.commit()
    assert notifier.sent == []
    assert session.get(Confirmation, confirmation.id).state == "submitted"


def test_return_texts_every_linked_parent(session, env):
    second = add_parent(session, env.student, phone="13800000002")
    confirmation = submitted(session, env)
    session.commit()
    notifier = SentMessages(session)
    review.return_confirmation(session, confirmation, "请重新拍照", actor=env.by_teacher)
    session.commit()
    assert sorted(phone for phone, _ in notifier.sent) == [env.parent.phone, second.phone]


def test_returned_confirmation_can_be_corrected_and_submitted_again(session, env):
    confirmation = submitted(session, env)
    review.return_confirmation(session, confirmation, "请重新拍照", actor=env.by_teacher)
    records.save_corrections(session, confirmation, {(0, "postcode"): "550002"}, actor=env.by_parent)
    review.submit_confirmation(session, confirmation, add_sheet(session, env.student, env.by_parent),
                               actor=env.by_parent)
    session.commit()
    assert confirmation.state == "submitted" and confirmation.return_reason is None
    history = session.scalars(select(ConfirmationEvent).order_by(ConfirmationEvent.id))
    assert [(e.from_state, e.to_state) for e in history] == [
        ("open", "submitted"), ("submitted", "returned"), ("returned", "submitted")]


def test_review_decisions_are_audited_with_actor_and_target(session, env):
    confirmation = submitted(session, env)
    review.return_confirmation(session, confirmation, "请重新拍照", actor=env.by_teacher)
    review.submit_confirmation(session, confirmation, add_sheet(session, env.student, env.by_parent),
                               actor=env.by_parent)
    review.approve_confirmation(session, confirmation, actor=env.by_teacher)
    session.commit()
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [r.action for r in rows] == ["confirmation.submitted", "confirmation.returned",
                                        "confirmation.submitted", "confirmation.approved"]
    assert {(r.target_type, r.target_id, r.school_id) for r in rows} == {
        ("confirmations", confirmation.id, env.school.id)}
    assert [(r.actor_kind, r.actor_id) for r in rows] == [
        ("parent", env.parent.id), ("staff", env.teacher.id), ("parent", env.parent.id), ("staff", env.teacher.id)]
    assert rows[1].detail == {"reason": "请重新拍照"}


# ---------------------------------------------------------------------------------------------------
# registration codes and registration


@pytest.fixture
def newcomer(session, env) -> Student:
    """A student of the class without a registered parent."""
    student = make_student(session, env.school_class)
    session.commit()
    return student


def start(session, code: str, student: Student, phone: str, key: bytes, notifier: SentMessages):
    challenge = start_registration(session, RegistrationStart(code, student.name, phone, NOTICE_VERSION), key=key)
    session.commit()
    return challenge


def test_issued_code_is_shown_once_and_stored_only_as_a_keyed_hash(session, env, newcomer, key):
    code = issue_code(session, newcomer, key=key, actor=env.by_teacher)
    session.commit()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
    row = session.scalar(select(RegistrationCode))
    assert code not in row.code_hash and code.replace("-", "") not in row.code_hash
    assert (row.student_id, row.issued_by_id, row.revoked_at, row.used_at) == (newcomer.id, env.teacher.id, None, None)


def test_issuing_a_new_code_revokes_the_previous_one(session, env, newcomer, key):
    first = issue_code(session, newcomer, key=key, actor=env.by_teacher)
    second = issue_code(session, newcomer, key=key, actor=env.by_teacher)
    session.commit()
    rows = session.scalars(select(RegistrationCode).order_by(RegistrationCode.id)).all()
    assert [r.revoked_at is not None for r in rows] == [True, False]
    notifier = SentMessages(session)
    with pytest.raises(FieldErrors, match="注册码或学生姓名不正确"):
        start_registration(session, RegistrationStart(first, newcomer.name, "13912345678", NOTICE_VERSION), key=key)
    assert start(session, second, newcomer, "13912345678", key, notifier) is not None
    assert actions(session).count("registration_code.issued") == 2


def test_code_with_another_students_name_is_refused_with_the_same_message(session, env, newcomer, key):
    code = issue_code(session, newcomer, key=key, actor=env.by_teacher)
    with pytest.raises(FieldErrors, match="注册码或学生姓名不正确"):
        start_registration(session, RegistrationStart(code, env.student.name, "13912345678", NOTICE_VERSION), key=key)


def test_registration_creates_the_account_links_the_child_and_uses_up_the_code(session, env, newcomer, key):
    code = issue_code(session, newcomer, key=key, actor=env.by_teacher)
    session.commit()
    notifier = SentMessages(session)
    challenge = start(session, code.lower().replace("-", " "), newcomer, "13912345678", key, notifier)
    assert notifier.sent[0][0] == "13912345678"
    account, student, created = complete_registration(
        session, challenge_id=challenge.id, sms_code=notifier.code(), password="secret-pass-1",
        password_confirm="secret-pass-1", key=key, ip="203.0.113.9",
    )
    session.commit()
    assert created and student.id == newcomer.id
    assert account.phone == "13912345678" and re.fullmatch(r"\d{8}", account.platform_no)
    assert account.password_hash.startswith("$argon2id$")
    assert session.scalar(select(Guardianship).where(Guardianship.parent_id == account.id)).student_id == newcomer.id
    row = session.scalar(select(RegistrationCode))
    assert row.used_at is not None and row.used_by_parent_id == account.id
    registered = session.scalar(select(AuditEvent).where(AuditEvent.action == "parent.registered"))
    assert (registered.actor_kind, registered.actor_id, registered.target_id, registered.ip) == (
        "parent", account.id, newcomer.id, "203.0.113.9")


def test_a_code_can_be_claimed_only_once(session, env, newcomer, key):
    code = issue_code(session, newcomer, key=key, actor=env.by_teacher)
    session.commit()
    sms = SentMessages(session)
    first = start(session, code, newcomer, "13912345678", key, sms)
    first_code = sms.code()
    second = start(session, code, newcomer, "13787654321", key, sms)  # both before either finished
    second_code = sms.code()
    complete_registration(session, challenge_id=first.id, sms_code=first_code, password="secret-pass-1",
                          password_confirm="secret-pass-1", key=key)
    session.commit()
    with pytest.raises(DomainError, match="已被使用"):
        complete_registration(session, challenge_id=second.id, sms_code=second_code,
                              password="secret-pass-2", password_confirm="secret-pass-2", key=key)
    session.rollback()
    assert session.scalar(select(ParentAccount).where(ParentAccount.phone == "13787654321")) is None
    assert session.scalar(
        select(func.count()).select_from(Guardianship).where(Guardianship.student_id == newcomer.id)) == 1
    with pytest.raises(FieldErrors, match="该注册码已被使用"):
        start_registration(session, RegistrationStart(code, newcomer.name, "13600000000", NOTICE_VERSION), key=key)


def test_wrong_sms_code_is_a_recorded_refusal(session, env, newcomer, key):
    code = issue_code(session, newcomer, key=key, actor=env.by_teacher)
    notifier = SentMessages(session)
    challenge = start(session, code, newcomer, "13912345678", key, notifier)
    wrong = "000000" if notifier.code() != "000000" else "111111"
    with pytest.raises(RecordedRefusal, match="还可以尝试 4 次"):
        complete_registration(session, challenge_id=challenge.id, sms_code=wrong, password="secret-pass-1",
                              password_confirm="secret-pass-1", key=key)
    session.commit()
    assert session.get(SmsChallenge, challenge.id).attempts == 1


# ---------------------------------------------------------------------------------------------------
# SMS challenges


def test_sms_code_is_sent_after_commit_and_stored_hashed(session, key):
    notifier = SentMessages(session)
    challenge = send_challenge(session, phone="13912345678", purpose="register", payload={}, key=key)
    assert notifier.sent == []
    session.commit()
    assert len(notifier.sent) == 1
    assert notifier.code() not in challenge.code_hash
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)


def test_second_sms_within_sixty_seconds_is_refused(session, key):
    notifier = SentMessages(session)
    t0 = utcnow()
    send_challenge(session, phone="13912345678", purpose="register", payload={}, key=key, now=t0)
    session.commit()
    with pytest.raises(DomainError, match="过于频繁"):
        send_challenge(session, phone="13912345678", purpose="register", payload={}, key=key,
                       now=t0 + timedelta(seconds=30))
    # another phone is not held up, and the same phone may try again after a minute
    send_challenge(session, phone="13911112222", purpose="register", payload={}, key=key,
                   now=t0 + timedelta(seconds=30))
    send_challenge(session, phone="13912345678", purpose="register", payload={}, key=key,
                   now=t0 + timedelta(seconds=61))
    session.commit()
    assert [phone for phone, _ in notifier.sent] == ["13912345678", "13911112222", "13912345678"]


def test_a_phone_gets_at_most_ten_codes_a_day(session, key):
    t0 = utcnow() - timedelta(hours=12)
    for i in range(10):
        send_challenge(session, phone="13912345678", purpose="register", payload={}, key=key,
                       now=t0 + timedelta(minutes=2 * i))
    with pytest.raises(DomainError, match="上限"):
        send_challenge(session, phone="13912345678", purpose="register", payload={}, key=key,
                       now=t0 + timedelta(minutes=30))


# ---------------------------------------------------------------------------------------------------
# progress by stage


@pytest.fixture
def staged(session, env):
    """A class with one student in each stage, plus one approved only in last year's campaign."""
    old = Campaign(school_id=env.school.id, name="去年", deadline=local_today() - timedelta(days=300),
                   is_active=False)
    session.add(old)
    session.flush()
    cls = make_class(session, env.school, env.teacher)
    s = {stage: make_student(session, cls) for stage in ("unregistered", "open", "draft", "submitted",
                                                         "returned", "approved", "last_year")}
    add_parent(session, s["open"], s["draft"], s["submitted"], s["returned"], s["approved"])
    records.save_corrections(session, records.ensure_confirmation(session, env.campaign, s["draft"]),
                             {(0, "postcode"): "550002"}, actor=env.by_parent)
    for name in ("submitted", "returned", "approved"):
        submitted(session, env, student=s[name])
    review.return_confirmation(session, records.confirmation_for(session, env.campaign, s["returned"]), "模糊",
                               actor=env.by_teacher)
    review.approve_confirmation(session, records.confirmation_for(session, env.campaign, s["approved"]),
                                actor=env.by_teacher)
    last_year = Confirmation(campaign_id=old.id, student_id=s["last_year"].id, state="approved",
                             sheet_file_id=add_sheet(session, s["last_year"], env.by_parent).id)
    session.add(last_year)
    session.commit()
    return cls, s


def test_stage_counts_count_each_class_by_stage_in_the_given_campaign(session, env, staged):
    cls, _ = staged
    empty = make_class(session, env.school)
    session.commit()
    counts = stats.stage_counts(session, [cls.id, env.school_class.id, empty.id], env.campaign.id)
    assert counts[cls.id] == Counter({Stage.UNREGISTERED: 2, Stage.REGISTERED: 2, Stage.SUBMITTED: 1,
                                      Stage.RETURNED: 1, Stage.APPROVED: 1})
    assert counts[env.school_class.id] == Counter({Stage.REGISTERED: 1})
    assert counts[empty.id] == Counter()
    assert stats.stage_counts(session, [], env.campaign.id) == {}


def test_without_a_campaign_only_the_parent_link_decides(session, env, staged):
    cls, _ = staged
    assert stats.stage_counts(session, [cls.id], None)[cls.id] == Counter(
        {Stage.UNREGISTERED: 2, Stage.REGISTERED: 5})


def test_students_with_stage_lists_each_student_with_their_stage(session, env, staged):
    cls, s = staged
    listed = stats.students_with_stage(session, cls.id, env.campaign.id)
    assert {student.id: stage for student, stage in listed} == {
        s["unregistered"].id: Stage.UNREGISTERED, s["last_year"].id: Stage.UNREGISTERED,
        s["open"].id: Stage.REGISTERED, s["draft"].id: Stage.REGISTERED, s["submitted"].id: Stage.SUBMITTED,
        s["returned"].id: Stage.RETURNED, s["approved"].id: Stage.APPROVED,
    }
    assert [student.name for student, _ in listed] == sorted(student.name for student, _ in listed)


@pytest.mark.parametrize(("stage", "expected"), [
    (Stage.UNREGISTERED, {"unregistered", "last_year"}), (Stage.REGISTERED, {"open", "draft"}),
    (Stage.SUBMITTED, {"submitted"}), (Stage.RETURNED, {"returned"}), (Stage.APPROVED, {"approved"}),
])
def test_students_with_stage_filters_by_stage(session, env, staged, stage, expected):
    cls, s = staged
    listed = stats.students_with_stage(session, cls.id, env.campaign.id, stage)
    assert {student.id for student, _ in listed} == {s[name].id for name in expected}
    assert {found for _, found in listed} == {stage}


def _statements_for_stage_counts(session, env, n_students: int) -> int:
    cls = make_class(session, env.school)
    students = [make_student(session, cls) for _ in range(n_students)]
    add_parent(session, *students[: n_students // 2])
    for student in students[:3]:
        submitted(session, env, student=student)
    session.commit()
    class_ids = [cls.id, env.school_class.id]
    engine = session.get_bind()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = stats.stage_counts(session, class_ids, env.campaign.id)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts[cls.id].total() == n_students
    assert counts[cls.id][Stage.SUBMITTED] == 3
    return len(statements)


def test_stage_counts_use_one_statement_however_many_students(session, env):
    assert _statements_for_stage_counts(session, env, 5) == 1
    assert _statements_for_stage_counts(session, env, 50) == 1


# ---------------------------------------------------------------------------------------------------
# audit trail


def test_logins_are_audited_whether_they_succeed_or_not(session, env):
    from confirm.security import hash_password

    env.teacher.password_hash = hash_password("right-password-1")
    session.commit()
    assert login_service.authenticate(session, env.teacher.username, "wrong-password", key=b"k" * 32,
                                      ip="198.51.100.7") is None
    assert login_service.authenticate(session, env.teacher.username, "right-password-1", key=b"k" * 32) is not None
    session.commit()
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(r.action, r.actor_kind, r.actor_id, r.school_id) for r in rows] == [
        ("login.failed", "staff", env.teacher.id, env.school.id),
        ("login.succeeded", "staff", env.teacher.id, env.school.id),
    ]
    assert rows[0].ip == "198.51.100.7"


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET action = 'tampered'",
    "DELETE FROM audit_events",
])
def test_database_refuses_to_change_or_delete_audit_rows(session, env, newcomer, key, statement):
    issue_code(session, newcomer, key=key, actor=env.by_teacher)
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    assert actions(session) == ["registration_code.issued"]


# ---------------------------------------------------------------------------------------------------
# campaign_and_confirmation: what the parent's record page reads in one statement


def test_the_running_campaign_comes_with_the_childs_own_confirmation_and_its_corrections(session, env):
    sibling = make_student(session, env.school_class)
    records.save_corrections(session, confirmation_of(session, env, sibling), {(0, "current_address"): "兄弟家8号"},
                             actor=env.by_parent)
    assert records.campaign_and_confirmation(session, env.student) == (env.campaign, None)  # not started yet

    mine = confirmation_of(session, env)
    records.save_corrections(session, mine, {(0, "current_address"): "贵阳市新地址8号"}, actor=env.by_parent)
    session.commit()
    session.expunge_all()
    campaign, confirmation = records.campaign_and_confirmation(session, env.student, with_corrections=True)

    assert (campaign.id, confirmation.id) == (env.campaign.id, mine.id)
    assert [c.new_value for c in confirmation.corrections] == ["贵阳市新地址8号"]


def test_only_the_newest_running_campaign_counts_and_none_without_one(session, env):
    confirmation_of(session, env)
    newer = make_campaign(session, env.school)
    assert records.campaign_and_confirmation(session, env.student) == (newer, None)

    env.campaign.is_active = newer.is_active = False
    session.flush()
    assert records.campaign_and_confirmation(session, env.student) == (None, None)
