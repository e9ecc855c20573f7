"""Throttling on the web (issue 12 item 5): strangers cannot use up a teacher's step-up codes, and a burst of wrong
passwords from one address leaves the owner signing in from another."""

from __future__ import annotations

from datetime import timedelta

import pytest

from confirm.models import utcnow
from tests.factories import PASSWORD
from tests.webapp.conftest import sms_code

TEACHER_PHONE = "13700000019"


@pytest.fixture
def sms_clock(monkeypatch):
    """Moves the SMS codes' clock (their limits and expiry) forward."""
    import confirm.services.sms_codes as sms_codes

    shift = {"by": timedelta(0)}
    monkeypatch.setattr(sms_codes, "utcnow", lambda: utcnow() + shift["by"])

    def forward(**delta):
        shift["by"] += timedelta(**delta)

    return forward


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_ten_anonymous_forgot_password_requests_for_a_teachers_phone_leave_the_teachers_step_up(app, world, db,
                                                                                                 outbox, sms_clock):
    teacher = db.merge(world.teacher)
    teacher.phone = TEACHER_PHONE
    db.commit()
    for n in range(10):  # the phone's whole daily allowance of reset codes, from ten addresses over ten hours
        answer = from_address(app, f"198.51.100.{n}").post("/login/forgot", data={"phone": TEACHER_PHONE})
        assert answer.status_code == 302
        sms_clock(hours=1)
    refused = from_address(app, "198.51.100.99").post("/login/forgot", data={"phone": TEACHER_PHONE},
                                                      follow_redirects=True)
    assert "该手机号今天获取验证码的次数已达上限" in refused.get_data(as_text=True)

    own = from_address(app, "203.0.113.5")
    assert own.post("/login", data={"login": teacher.username, "password": PASSWORD}).status_code == 302
    sent = own.post("/teacher/verify/send")

    assert sent.status_code == 302 and outbox[-1][0] == TEACHER_PHONE
    assert own.post("/teacher/verify", data={"sms_code": sms_code(outbox)}).headers["Location"] == "/teacher/"


def test_the_owner_signs_in_from_another_address_right_after_twenty_wrong_passwords(app, world):
    attacker = from_address(app, "198.51.100.1")
    for n in range(20):
        answer = attacker.post("/login", data={"login": world.parent.phone, "password": f"guess-{n}"})
        assert answer.status_code == 200
    assert "登录尝试次数过多" in attacker.post("/login", data={"login": world.parent.phone,
                                                              "password": PASSWORD}).get_data(as_text=True)

    owner = from_address(app, "203.0.113.5").post("/login", data={"login": world.parent.phone, "password": PASSWORD})

    assert owner.status_code == 302 and owner.headers["Location"].startswith("/parent")
