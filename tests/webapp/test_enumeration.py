"""No enumeration (issue 12 item 6): sign-in after six failures, forgot-password, the second registration step and
an invitation's phone check answer with the same status and the same page whether or not the account or the phone
exists. (The time they take is measured by benchmarks/enumeration_timing.py.)"""

from __future__ import annotations

import re

from confirm.invitations import Invitation, make_invitation_token

# The values that differ from one browser session to the next: CSRF and repeat-guard tokens.
_PER_SESSION = re.compile(r'(name="(?:csrf_token|once_token)"[^>]*value=")[^"]*"|(value=")[A-Za-z0-9._-]{24,}"')


def same_page(body: str, typed: str = "") -> str:
    """The page with its per-session tokens (and what the user typed) blanked out."""
    body = _PER_SESSION.sub(lambda m: (m.group(1) or m.group(2)) + '…"', body)
    return body.replace(typed, "…") if typed else body


def answers(response) -> tuple[int, str | None]:
    return response.status_code, response.headers.get("Location")


def test_sign_in_after_six_failures_looks_the_same_for_a_known_and_an_unknown_account(app, world):
    pages = {}
    for label, login in (("known", world.parent.phone), ("unknown", "13899990001")):
        client = app.test_client()
        tries = [client.post("/login", data={"login": login, "password": f"wrong-{n}"}) for n in range(7)]
        pages[label] = [(r.status_code, same_page(r.get_data(as_text=True), login)) for r in tries]
    assert pages["known"] == pages["unknown"]
    assert "账号或密码不正确" in pages["known"][0][1] and "登录尝试次数过多" in pages["known"][6][1]


def test_forgot_password_answers_the_same_for_a_registered_and_an_unknown_phone(app, world, outbox):
    seen = {}
    for label, phone in (("known", world.parent.phone), ("unknown", "13811110001")):  # both 138****0001
        client = app.test_client()
        started = client.post("/login/forgot", data={"phone": phone})
        seen[label] = answers(started), same_page(client.get(started.headers["Location"]).get_data(as_text=True))
    assert seen["known"] == seen["unknown"]
    assert seen["known"][0] == (302, "/login/forgot/verify")
    assert [phone for phone, _ in outbox] == [world.parent.phone]  # only the account's phone gets a code


def test_the_second_registration_step_does_not_say_whether_the_phone_has_an_account(app, world, issue, outbox):
    seen = {}
    for label, student, phone in (("known", world.students_a[1], world.parent.phone),
                                  ("unknown", world.students_a[2], "13822220001")):  # both 138****0001
        client = app.test_client()
        started = client.post("/register", data={"consent": "y", "code": issue(student), "student_name": student.name,
                                                  "phone": phone})
        seen[label] = answers(started), same_page(client.get(started.headers["Location"]).get_data(as_text=True))
    assert seen["known"] == seen["unknown"]
    assert seen["known"][0] == (302, "/register/verify") and 'name="password"' in seen["known"][1]


def test_an_invitation_does_not_say_whether_a_typed_phone_is_on_the_record(app, world, outbox):
    student = world.students_a[1]
    token = make_invitation_token(app.extensions["invite_key"], Invitation(student.id, world.campaign.id))
    on_record = student.member(1).value("phone")
    stranger = on_record[:3] + "1111" + on_record[-4:]
    seen = {}
    for label, phone in (("on record", on_record), ("stranger", stranger)):
        client = app.test_client()
        started = client.post("/register", query_string={"invite": token}, data={"consent": "y", "phone": phone})
        seen[label] = answers(started), same_page(client.get(started.headers["Location"]).get_data(as_text=True))
    assert seen["on record"] == seen["stranger"]
    assert [phone for phone, _ in outbox] == [on_record]


def test_a_code_never_sent_to_a_phone_off_the_record_cannot_register_it(app, world, db, outbox, monkeypatch):
    from confirm.services import sms_codes

    monkeypatch.setattr(sms_codes, "new_sms_code", lambda: "246810")  # the code a lucky guess would hit
    student = world.students_a[1]
    token = make_invitation_token(app.extensions["invite_key"], Invitation(student.id, world.campaign.id))
    client = app.test_client()
    client.post("/register", query_string={"invite": token}, data={"consent": "y", "phone": "13911119999"})

    guessed = client.post("/register/verify", data={"sms_code": "246810", "password": "a long lucky guess",
                                                     "password_confirm": "a long lucky guess"})

    assert guessed.status_code == 200 and "验证码已失效" in guessed.get_data(as_text=True)
    assert outbox == []
