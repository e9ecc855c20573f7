"""Account help in the domain core: step-up codes, code and password resets, misuse detection (no Flask)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from confirm.errors import DomainError, FieldErrors, RecordedRefusal
from confirm.models import AuditEvent, Guardianship, MisuseFlag, utcnow
from confirm.privacy import NOTICE_VERSION
from confirm.security import verify_password
from confirm.services import login as login_service
from confirm.services import misuse, resets, stepup
from confirm.services.common import SYSTEM, Actor
from confirm.services.limits import CODE_TRIES, LOGIN_FROM_ADDRESS
from confirm.services.registration import RegistrationStart, complete_registration, issue_code, start_registration
from tests.factories import make_class, make_parent, make_school, make_staff, make_student
from tests.fakes import SentMessages


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch):
    from argon2 import PasswordHasher

    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr("confirm.services.resets.hash_password", fast.hash)


@pytest.fixture
def env(session):
    school = make_school(session)
    teacher = make_staff(session, school, phone="13700000001")
    class_a, class_b = make_class(session, school, teacher), make_class(session, school)
    student = make_student(session, class_a)
    other = make_student(session, class_b)
    session.commit()
    return school, teacher, class_a, class_b, student, other


def _actions(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _code(notifier: SentMessages) -> str:
    return re.search(r"\b(\d{6})\b", notifier.sent[-1][1]).group(1)


def test_stepup_code_goes_to_the_teachers_phone_and_verifying_it_records_the_phone(session, env, key):
    _, teacher, *_ = env
    notifier = SentMessages(session)
    challenge = stepup.send_stepup_code(session, teacher, key=key, actor=Actor("staff", teacher.id))
    session.commit()
    assert notifier.sent[0][0] == "13700000001" and challenge.subject == f"staff:{teacher.id}"
    until = stepup.verify_stepup_code(session, teacher, challenge.id, _code(notifier), key=key,
                                      actor=Actor("staff", teacher.id))
    assert until - utcnow() > timedelta(minutes=9)
    assert teacher.phone_verified_at is not None
    assert {"stepup.code_sent", "stepup.verified"} <= set(_actions(session))
    with pytest.raises(FieldErrors):  # single use
        stepup.verify_stepup_code(session, teacher, challenge.id, _code(notifier), key=key, actor=SYSTEM)


def test_teacher_without_a_phone_is_told_to_ask_the_admin(session, env, key):
    school = env[0]
    teacher = make_staff(session, school)
    with pytest.raises(DomainError, match="学籍管理员"):
        stepup.send_stepup_code(session, teacher, key=key, actor=SYSTEM)


def test_another_teachers_stepup_code_does_not_unlock(session, env, key):
    school, teacher, *_ = env
    notifier = SentMessages(session)
    challenge = stepup.send_stepup_code(session, teacher, key=key, actor=SYSTEM)
    session.commit()
    colleague = make_staff(session, school, phone="13700000002")
    with pytest.raises(FieldErrors):
        stepup.verify_stepup_code(session, colleague, challenge.id, _code(notifier), key=key, actor=SYSTEM)


def test_stepup_codes_are_limited_per_teacher(session, env, key):
    _, teacher, *_ = env
    start = utcnow()
    for n in range(10):
        teacher.phone = f"1370000{n:04d}"  # even with a new phone each time
        stepup.send_stepup_code(session, teacher, key=key, actor=SYSTEM,
                                now=start + timedelta(minutes=2 * n))
    with pytest.raises(DomainError, match="上限"):
        teacher.phone = "13799999999"
        stepup.send_stepup_code(session, teacher, key=key, actor=SYSTEM,
                                now=start + timedelta(minutes=30))


def test_resetting_a_code_unlinks_its_parent_and_the_old_code_stops_working(session, env, key):
    _, teacher, _, _, student, _ = env
    notifier = SentMessages(session)
    old = issue_code(session, student, key=key, actor=SYSTEM)
    challenge = start_registration(session, RegistrationStart(old, student.name, "13600000001", NOTICE_VERSION),
                                   key=key)
    session.commit()
    account, *_ = complete_registration(session, challenge_id=challenge.id, sms_code=_code(notifier),
                                        password="a-good-pass-1", password_confirm="a-good-pass-1", key=key)
    session.commit()
    by = Actor("staff", teacher.id)
    with pytest.raises(FieldErrors):
        resets.reset_registration_code(session, student, reason=" ", key=key, actor=by)
    result = resets.reset_registration_code(session, student, reason="家长说注册码被别人用了", key=key, actor=by)
    assert result.unlinked == [account] and result.code != old
    assert session.scalar(select(Guardianship).where(Guardianship.student_id == student.id)) is None
    sent_before_commit = len(notifier.sent)
    session.commit()
    assert notifier.sent[sent_before_commit:][0][0] == "13600000001"  # told only once the reset is saved
    with pytest.raises(FieldErrors):
        start_registration(session, RegistrationStart(old, student.name, "13600000009", NOTICE_VERSION), key=key)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "registration_code.reset"))
    assert (event.actor_id, event.target_id) == (teacher.id, student.id)
    assert event.detail["reason"] == "家长说注册码被别人用了"
    assert "guardianship.removed" in _actions(session)


def test_teacher_resets_a_parents_password_only_when_number_and_phone_match_one_of_the_classs_accounts(
        session, env):
    _, teacher, class_a, _, student, other = env
    parent = make_parent(session, student, phone="13600000002")
    stranger = make_parent(session, other, phone="13600000003")
    nonce = parent.session_nonce
    notifier = SentMessages(session)
    by = Actor("staff", teacher.id)
    common = {"class_ids": [class_a.id], "school_id": class_a.school_id, "actor": by}
    mismatches = [(parent.platform_no, stranger.phone), (stranger.platform_no, parent.phone), ("1", "x")]
    messages = set()
    for platform_no, phone in mismatches:
        with pytest.raises(FieldErrors) as caught:
            resets.reset_parent_password(session, platform_no=platform_no, phone=phone, **common)
        messages.add(str(caught.value))
    assert len(messages) == 1  # no hint which part was wrong
    with pytest.raises(RecordedRefusal):
        resets.reset_parent_password(session, platform_no=stranger.platform_no, phone=stranger.phone, **common)
    assert "parent_password.reset_refused" in _actions(session)
    temporary = resets.reset_parent_password(session, platform_no=parent.platform_no, phone=parent.phone, **common)
    session.commit()
    assert notifier.sent == [(parent.phone, notifier.sent[0][1])] and temporary in notifier.sent[0][1]
    assert verify_password(parent.password_hash, temporary)
    assert parent.must_change_password and parent.session_nonce != nonce


def test_forgot_password_answers_the_same_for_unknown_phones_and_sends_nothing(session, env, key):
    student = env[4]
    parent = make_parent(session, student, phone="13600000004")
    notifier = SentMessages(session)
    known = resets.start_password_reset(session, parent.phone, key=key)
    unknown = resets.start_password_reset(session, "13600000005", key=key)
    session.commit()
    assert type(known) is type(unknown) and [p for p, _ in notifier.sent] == [parent.phone]
    account = resets.complete_password_reset(session, challenge_id=known.id, sms_code=_code(notifier),
                                             password="my-own-pass-1", password_confirm="my-own-pass-1", key=key)
    assert account is parent and verify_password(parent.password_hash, "my-own-pass-1")


def test_a_valid_code_with_wrong_names_is_locked_after_five_tries_and_flagged(session, env, key):
    student = env[4]
    code = issue_code(session, student, key=key, actor=SYSTEM)
    for _ in range(CODE_TRIES.most):
        with pytest.raises(RecordedRefusal, match="不正确"):
            start_registration(session, RegistrationStart(code, "错的名字", "13600000006", NOTICE_VERSION), key=key)
    with pytest.raises(RecordedRefusal, match="锁定"):  # even with the right name now
        start_registration(session, RegistrationStart(code, student.name, "13600000006", NOTICE_VERSION), key=key)
    flag = session.scalar(select(MisuseFlag))
    assert (flag.kind, flag.detail["class_ids"]) == (misuse.CODE_FAILURES, [student.class_id])
    later = utcnow() + timedelta(minutes=61)
    assert start_registration(session, RegistrationStart(code, student.name, "13600000006", NOTICE_VERSION), key=key,
                              now=later)


def test_a_code_tried_from_three_phones_is_flagged(session, env, key):
    student = env[4]
    code = issue_code(session, student, key=key, actor=SYSTEM)
    start = utcnow()
    for n in range(3):
        start_registration(session, RegistrationStart(code, student.name, f"1360000010{n}", NOTICE_VERSION), key=key,
                           now=start + timedelta(minutes=n))
    flag = session.scalar(select(MisuseFlag))
    assert flag.kind == misuse.CODE_MANY_PHONES and len(flag.detail["phones"]) == 3
    assert all("****" in p for p in flag.detail["phones"])


def test_five_failed_logins_from_one_address_pause_that_address_for_fifteen_minutes(session, env, key):
    parent = make_parent(session, env[4], phone="13600000007")
    session.commit()
    start = utcnow()
    for n in range(LOGIN_FROM_ADDRESS.most):
        login = parent.phone if n % 2 else parent.platform_no  # both ways of naming the account count
        assert login_service.authenticate(session, login, "wrong-password", key=key, ip="198.51.100.1",
                                          now=start + timedelta(minutes=2 * n)) is None
    soon = start + timedelta(minutes=10)
    with pytest.raises(login_service.LoginThrottled, match="分钟后再试"):
        login_service.authenticate(session, parent.phone, "correct-horse-9", key=key, ip="198.51.100.1", now=soon)
    assert session.scalar(select(MisuseFlag.kind)) == misuse.LOGIN_BURST
    # the owner, elsewhere, is not locked out; and this address may try again once the window is over
    assert login_service.authenticate(session, parent.phone, "correct-horse-9", key=key, ip="203.0.113.5",
                                      now=soon) is parent
    later = start + timedelta(minutes=16)
    assert login_service.authenticate(session, parent.phone, "correct-horse-9", key=key, ip="198.51.100.1",
                                      now=later) is parent


def test_one_phone_for_unrelated_families_in_two_classes_is_flagged(session, env):
    _, _, class_a, class_b, student, _ = env
    sibling = make_student(session, class_b, name=student.name[0] + "小妹")  # same surname: one family
    parent = make_parent(session, student, sibling)
    misuse.check_phone_spread(session, parent)
    assert session.scalar(select(MisuseFlag)) is None
    stranger = make_student(session, class_b, name="王五")
    stranger.members[0].set_value("phone", "13611112222")
    stranger.members[0].set_value("name", "王大")
    session.add(Guardianship(parent_id=parent.id, student_id=stranger.id))
    session.flush()
    misuse.check_phone_spread(session, parent)
    flag = session.scalar(select(MisuseFlag))
    assert flag.kind == misuse.UNRELATED_FAMILIES and flag.detail["families"] == 2
    assert set(flag.detail["class_ids"]) == {class_a.id, class_b.id}


def test_resetting_a_code_also_unlinks_a_parent_who_came_through_an_invitation(session, env, key):
    *_, student, _other = env
    invited = make_parent(session, student, phone="13600000009")  # linked without a registration code
    session.commit()
    reset = resets.reset_registration_code(session, student, reason="不认识这个家长", key=key,
                                           actor=SYSTEM)
    session.commit()
    assert invited.id in [p.id for p in reset.unlinked]
    assert session.scalar(select(Guardianship).where(Guardianship.student_id == student.id)) is None


def test_teacher_cannot_reset_the_password_of_an_account_with_children_in_other_classes(session, env):
    _, teacher, class_a, _class_b, student, other = env
    parent = make_parent(session, student, other, phone="13600000010")
    session.commit()
    before = parent.password_hash
    with pytest.raises(RecordedRefusal) as refused:
        resets.reset_parent_password(session, platform_no=parent.platform_no, phone=parent.phone,
                                     class_ids=[class_a.id], school_id=class_a.school_id,
                                     actor=Actor("staff", teacher.id))
    assert "其他班级" in str(refused.value.errors[0][1])
    session.rollback()
    assert session.get(type(parent), parent.id).password_hash == before


def test_five_failed_staff_logins_pause_the_address_until_the_window_passes(session, env, key):
    _, teacher, *_ = env
    start = utcnow()
    for n in range(5):
        assert login_service.authenticate(session, teacher.username, "wrong-password", key=key,
                                          now=start + timedelta(minutes=n)) is None
        session.commit()
    with pytest.raises(login_service.LoginThrottled):
        login_service.authenticate(session, teacher.username, "correct-horse-9", key=key,
                                   now=start + timedelta(minutes=6))
    session.commit()
    later = start + timedelta(minutes=16)
    assert login_service.authenticate(session, teacher.username, "correct-horse-9", key=key, now=later) is not None


def test_an_unknown_login_name_is_counted_and_refused_just_like_a_real_one(session, env, key):
    parent = make_parent(session, env[4], phone="13600000008")
    session.commit()
    start = utcnow()
    answers = {}
    for name in (parent.phone, "13600009999"):
        for n in range(LOGIN_FROM_ADDRESS.most):
            assert login_service.authenticate(session, name, "wrong-password", key=key,
                                              now=start + timedelta(seconds=10 * n)) is None
        with pytest.raises(login_service.LoginThrottled) as refused:
            login_service.authenticate(session, name, "wrong-password", key=key, now=start + timedelta(minutes=1))
        answers[name] = str(refused.value.errors)
    assert answers[parent.phone] == answers["13600009999"]
