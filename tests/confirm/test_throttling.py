"""Throttling that protects without locking others out (issue 12 item 5): sign-in tries per (name, address), per
address and per name from everywhere; SMS codes per requester, per phone in a pool per purpose, per subject;
registration-code guesses per address and from everywhere, unknown codes included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from confirm.errors import FieldErrors, RecordedRefusal
from confirm.models import MisuseFlag, utcnow
from confirm.privacy import NOTICE_VERSION
from confirm.services import login as login_service
from confirm.services import resets, stepup
from confirm.services.common import Actor
from confirm.services.limits import (
    CODES_ANYWHERE,
    CODES_FROM_ADDRESS,
    LOGIN_ADDRESS_ALL,
    LOGIN_FROM_ADDRESS,
    SMS_FROM_ADDRESS,
    SMS_FROM_SESSION,
    SMS_TO_PHONE_DAILY,
    peek,
)
from confirm.services.registration import RegistrationStart, issue_code, start_registration
from confirm.services.sms_codes import Requester
from tests.factories import PASSWORD, make_class, make_parent, make_school, make_staff, make_student
from tests.fakes import SentMessages

ATTACKER, OWNER = "198.51.100.1", "203.0.113.5"


@pytest.fixture
def env(session):
    school = make_school(session)
    teacher = make_staff(session, school, phone="13700000001")
    student = make_student(session, make_class(session, school, teacher))
    parent = make_parent(session, student, phone="13600000001")
    session.commit()
    return teacher, student, parent


def test_twenty_wrong_passwords_from_one_address_never_stop_the_owner_from_another(session, env):
    _, _, parent = env
    start = utcnow()
    for n in range(20):
        try:
            assert login_service.authenticate(session, parent.phone, f"guess-{n}", key=b"k", ip=ATTACKER,
                                              now=start + timedelta(seconds=2 * n)) is None
        except login_service.LoginThrottled:
            assert n >= 5  # the attacker's address is paused after five
        session.commit()
    at_once = start + timedelta(seconds=40)  # well within the minute
    assert login_service.authenticate(session, parent.phone, PASSWORD, key=b"k", ip=OWNER, now=at_once) is parent
    with pytest.raises(login_service.LoginThrottled):
        login_service.authenticate(session, parent.phone, PASSWORD, key=b"k", ip=ATTACKER, now=at_once)


def test_wrong_passwords_for_many_names_from_one_address_pause_that_address_only(session, env):
    _, _, parent = env
    start = utcnow()
    for n in range(LOGIN_ADDRESS_ALL.most):
        assert login_service.authenticate(session, f"1390000{n:04d}", "guess", key=b"k", ip=ATTACKER,
                                          now=start + timedelta(seconds=n)) is None
    later = start + timedelta(minutes=1)
    with pytest.raises(login_service.LoginThrottled) as refused:  # a name never tried from here, and a right one
        login_service.authenticate(session, parent.phone, PASSWORD, key=b"k", ip=ATTACKER, now=later)
    assert "登录尝试次数过多" in refused.value.errors[0][1].text
    assert login_service.authenticate(session, parent.phone, PASSWORD, key=b"k", ip=OWNER, now=later) is parent


def test_right_passwords_from_a_shared_address_never_pause_it(session, env):
    """A school's Wi-Fi: many sign-ins from one address, each with the right password."""
    _, student, _ = env
    parents = [make_parent(session, student) for _ in range(LOGIN_ADDRESS_ALL.most + 10)]
    session.commit()
    start = utcnow()
    for n, parent in enumerate(parents):
        assert login_service.authenticate(session, parent.phone, PASSWORD, key=b"k", ip=OWNER,
                                          now=start + timedelta(seconds=n)) is parent



def test_signing_in_again_and_again_with_the_right_password_never_locks_the_account(session, env):
    """A parent in WeChat whose session keeps being lost signs in six times in a quarter of an hour, after one
    mistyped password; only that one failure counts."""
    _, _, parent = env
    start = utcnow()
    assert login_service.authenticate(session, parent.phone, "mistyped", key=b"k", ip=OWNER, now=start) is None
    for n in range(1, LOGIN_FROM_ADDRESS.most + 4):
        assert login_service.authenticate(session, parent.phone, PASSWORD, key=b"k", ip=OWNER,
                                          now=start + timedelta(seconds=n)) is parent
        session.commit()
    assert peek(session, LOGIN_FROM_ADDRESS, f"parent:{parent.id}", OWNER, key=b"k",
                now=start + timedelta(seconds=10)) == 1
    assert session.scalars(select(MisuseFlag)).all() == []  # nor is the head teacher told of failures


def test_typing_the_password_again_before_a_sensitive_step_counts_only_the_wrong_ones(session, env):
    _, _, parent = env
    for _ in range(LOGIN_FROM_ADDRESS.most + 2):
        login_service.check_password_again(session, parent, PASSWORD, key=b"k", ip=OWNER)
    assert peek(session, LOGIN_FROM_ADDRESS, f"parent:{parent.id}", OWNER, key=b"k") == 0

def test_ten_anonymous_reset_requests_for_a_teachers_phone_leave_the_teachers_step_up(session, env):
    teacher, _, _ = env
    notifier = SentMessages(session)
    start = utcnow()
    for n in range(SMS_TO_PHONE_DAILY.most):  # one an hour, each from another address: every limit but the phone's
        resets.start_password_reset(session, teacher.phone, key=b"k", now=start + timedelta(hours=n),
                                    requester=Requester(f"198.51.100.{n}", f"session-{n}"))
        session.commit()
    later = start + timedelta(hours=11)
    with pytest.raises(RecordedRefusal, match="该手机号今天获取验证码的次数已达上限"):
        resets.start_password_reset(session, teacher.phone, key=b"k", now=later, requester=Requester("192.0.2.9"))
    session.commit()
    assert notifier.sent == []  # no account has that phone: nothing was ever sent to it

    stepup.send_stepup_code(session, teacher, key=b"k", actor=Actor("staff", teacher.id), now=later)
    session.commit()
    assert [phone for phone, _ in notifier.sent] == [teacher.phone]


def test_an_address_past_its_sms_allowance_spends_nothing_of_the_phones(session, env):
    _, _, parent = env
    notifier = SentMessages(session)
    start = utcnow()
    for n in range(SMS_FROM_ADDRESS.most):
        resets.start_password_reset(session, f"1350000{n:04d}", key=b"k", now=start + timedelta(seconds=n),
                                    requester=Requester(ATTACKER, f"s{n}"))
    with pytest.raises(RecordedRefusal, match="获取验证码的次数过多"):
        resets.start_password_reset(session, parent.phone, key=b"k", now=start + timedelta(minutes=1),
                                    requester=Requester(ATTACKER, "fresh"))
    session.commit()
    # the parent's own request, a second later from elsewhere, is not paused by the refused one
    resets.start_password_reset(session, parent.phone, key=b"k", now=start + timedelta(minutes=1, seconds=1),
                                requester=Requester(OWNER, "own"))
    session.commit()
    assert [phone for phone, _ in notifier.sent] == [parent.phone]


def test_one_browser_session_gets_a_few_codes_an_hour_whatever_its_addresses(session, env):
    start = utcnow()
    for n in range(SMS_FROM_SESSION.most):
        resets.start_password_reset(session, f"1350000{n:04d}", key=b"k", now=start + timedelta(seconds=n),
                                    requester=Requester(f"198.51.100.{n}", "one-browser"))
    with pytest.raises(RecordedRefusal, match="获取验证码的次数过多"):
        resets.start_password_reset(session, "13500009999", key=b"k", now=start + timedelta(minutes=1),
                                    requester=Requester("192.0.2.1", "one-browser"))
    assert resets.start_password_reset(session, "13500009999", key=b"k", now=start + timedelta(minutes=1),
                                       requester=Requester("192.0.2.1", "another-browser"))


def _try(session, code, name, *, ip, now):
    return start_registration(session, RegistrationStart(code, name, "13600000002", NOTICE_VERSION), key=b"k", ip=ip,
                              now=now)


def test_unknown_registration_codes_from_one_address_are_counted_and_pause_it(session, env):
    _, student, _ = env
    real = issue_code(session, student, key=b"k", actor=Actor("staff", None))
    start = utcnow()
    for n in range(CODES_FROM_ADDRESS.most):
        with pytest.raises(RecordedRefusal, match="注册码或学生姓名不正确"):
            _try(session, f"ZZZZ-ZZ{n:02d}", student.name, ip=ATTACKER, now=start + timedelta(seconds=n))
    with pytest.raises(RecordedRefusal, match="尝试次数过多"):  # even the right code, from this address
        _try(session, real, student.name, ip=ATTACKER, now=start + timedelta(minutes=1))
    assert _try(session, real, student.name, ip=OWNER, now=start + timedelta(minutes=1))


def test_unknown_registration_codes_from_everywhere_are_counted_together(session, env):
    _, student, _ = env
    real = issue_code(session, student, key=b"k", actor=Actor("staff", None))
    start = utcnow()
    for n in range(CODES_ANYWHERE.most):  # a botnet: each address stays under its own limit
        with pytest.raises(FieldErrors):
            _try(session, f"ZZZZ-{n:04d}", student.name, ip=f"10.{n // 250}.{n % 250}.1",
                 now=start + timedelta(milliseconds=n))
    with pytest.raises(RecordedRefusal, match="尝试次数过多"):
        _try(session, real, student.name, ip=OWNER, now=start + timedelta(minutes=1))
    assert _try(session, real, student.name, ip=OWNER, now=start + timedelta(minutes=11))
