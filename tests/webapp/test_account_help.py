"""Account help on the web: step-up SMS verification, resets, the parents directory, invitation links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from confirm.clock import local_today
from confirm.invitations import Invitation, make_invitation_token
from confirm.models import AuditEvent, Guardianship, ParentAccount, RegistrationCode
from tests.factories import PASSWORD
from tests.webapp.conftest import sms_code

TEACHER_PHONE = "13700000009"


@pytest.fixture
def teacher_in(world, db, auth):
    """The head teacher of class A, with a phone on record, logged in."""
    teacher = db.merge(world.teacher)
    teacher.phone = TEACHER_PHONE
    db.commit()
    assert auth.login(teacher.username, PASSWORD).status_code == 302
    return teacher


def _step_up(client, outbox, next_path=""):
    response = client.post("/teacher/verify/send", query_string={"next": next_path})
    assert response.status_code == 302 and outbox[-1][0] == TEACHER_PHONE
    return client.post("/teacher/verify", query_string={"next": next_path}, data={"sms_code": sms_code(outbox)})


def _actions(db) -> list[str]:
    db.commit()
    return list(db.scalars(select(AuditEvent.action)))


def test_sensitive_action_sends_to_stepup_first_then_works_for_this_session(client, world, db, teacher_in, outbox,
                                                                           issue):
    student = world.students_a[1]
    issue(student)
    path = f"/teacher/students/{student.id}/reset-code"
    assert "去验证" in client.get(path).get_data(as_text=True)
    refused = client.post(path, data={"reason": "注册码丢了"})
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/teacher/verify")
    verified = _step_up(client, outbox, path)
    assert verified.status_code == 302 and verified.headers["Location"] == path
    db.refresh(teacher_in)
    assert teacher_in.phone_verified_at is not None
    response = client.post(path, data={"reason": "注册码丢了"})
    assert response.status_code == 200 and "注册码只显示这一次" in response.get_data(as_text=True)
    assert "registration_code.reset" in _actions(db)


def test_wrong_stepup_code_does_not_unlock(client, world, teacher_in, outbox):
    client.post("/teacher/verify/send")
    response = client.post("/teacher/verify", data={"sms_code": "000000" if sms_code(outbox) != "000000" else "1"})
    assert "验证码不正确" in response.get_data(as_text=True)
    path = f"/teacher/classes/{world.class_a.id}/reset-password"
    assert client.post(path, data={"platform_no": "1", "phone": "1"}).status_code == 302


def test_teacher_without_a_phone_is_told_to_ask_the_admin(client, world, auth):
    auth.login(world.teacher.username, PASSWORD)
    response = client.post("/teacher/verify/send", follow_redirects=True)
    assert "请联系学籍管理员为您登记手机号" in response.get_data(as_text=True)


def test_code_reset_unlinks_the_parent_who_used_it_and_texts_them(client, world, db, teacher_in, outbox, issue):
    student = world.students_a[0]  # world.parent is linked to it; say through a code
    old = issue(student)
    code_id = db.scalar(select(RegistrationCode.id).where(RegistrationCode.student_id == student.id))
    db.scalar(select(Guardianship).where(Guardianship.student_id == student.id)).registration_code_id = code_id
    db.commit()
    _step_up(client, outbox)
    response = client.post(f"/teacher/students/{student.id}/reset-code", data={"reason": "陌生人用了注册码"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and old not in body and student.name in body
    assert db.scalar(select(Guardianship).where(Guardianship.student_id == student.id)) is None
    assert outbox[-1][0] == world.parent.phone and student.name in outbox[-1][1]


def test_parent_gets_a_temporary_password_and_must_choose_a_new_one(app, client, world, db, teacher_in, outbox,
                                                                    auth):
    _step_up(client, outbox)
    path = f"/teacher/classes/{world.class_a.id}/reset-password"
    response = client.post(path, data={"platform_no": world.parent.platform_no, "phone": world.parent.phone})
    assert response.status_code == 200
    phone, text = outbox[-1]
    temporary = text.split("临时密码：")[1][:10]
    assert phone == world.parent.phone and temporary in response.get_data(as_text=True)
    assert "parent_password.reset" in _actions(db)

    parent_client = app.test_client()
    parent_client.post("/login", data={"login": world.parent.platform_no, "password": temporary})
    blocked = parent_client.get(f"/parent/students/{world.students_a[0].id}")
    assert blocked.status_code == 302 and blocked.headers["Location"] == "/account/password"
    changed = parent_client.post("/account/password",
                                 data={"password": "my-new-pass-8", "password_confirm": "my-new-pass-8"})
    assert changed.status_code == 302 and changed.headers["Location"] == "/parent/"
    home = parent_client.get("/parent/", follow_redirects=True)
    assert home.status_code == 200 and home.request.path.startswith("/parent/")
    db.expire_all()
    assert not db.get(ParentAccount, world.parent.id).must_change_password


def test_mismatch_gives_one_message_and_another_class_is_refused_and_audited(client, world, teacher_in, outbox, db):
    _step_up(client, outbox)
    path = f"/teacher/classes/{world.class_a.id}/reset-password"
    wrong_phone = client.post(path, data={"platform_no": world.parent.platform_no, "phone": "13811112222"})
    wrong_number = client.post(path, data={"platform_no": "99999999", "phone": world.parent.phone})
    message = "平台号和手机号不属于同一个家长账号"
    assert message in wrong_phone.get_data(as_text=True) and message in wrong_number.get_data(as_text=True)
    other = client.post(path, data={"platform_no": world.other_parent.platform_no, "phone": world.other_parent.phone})
    assert "不是您班级学生的家长" in other.get_data(as_text=True)
    assert "parent_password.reset_refused" in _actions(db)
    assert [p for p, _ in outbox] == [TEACHER_PHONE]


def test_parent_resets_own_password_by_sms_and_unknown_phones_get_the_same_answer(client, world, db, outbox):
    unknown = client.post("/login/forgot", data={"phone": "13811119999"})
    assert unknown.status_code == 302 and outbox == []
    known = client.post("/login/forgot", data={"phone": world.parent.phone})
    assert known.headers["Location"] == unknown.headers["Location"]
    done = client.post("/login/forgot/verify", data={"sms_code": sms_code(outbox), "password": "fresh-pass-77",
                                                      "password_confirm": "fresh-pass-77"})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert client.post("/login", data={"login": world.parent.phone, "password": "fresh-pass-77"}).status_code == 302


def test_directory_masks_phones_and_reveals_one_after_stepup_with_an_audit(client, world, teacher_in, outbox, db):
    path = f"/teacher/classes/{world.class_a.id}/parents"
    body = client.get(path).get_data(as_text=True)
    assert "138****0001" in body and world.parent.phone not in body and world.parent.platform_no in body
    assert world.other_parent.platform_no not in body
    assert "138****0001" not in client.get(path, query_string={"q": "没有这个人"}).get_data(as_text=True)
    assert world.parent.platform_no in client.get(path, query_string={"q": world.students_a[0].name}).text
    assert client.post(path + "/reveal", data={"parent_id": world.parent.id}).status_code == 302
    _step_up(client, outbox)
    assert client.post(path + "/reveal", data={"parent_id": world.other_parent.id}).status_code == 404
    revealed = client.post(path + "/reveal", data={"parent_id": world.parent.id})
    assert world.parent.phone in revealed.get_data(as_text=True)
    assert _actions(db).count("parent.phone_revealed") == 1


def _invite(app, world, student, campaign=None) -> str:
    campaign = campaign or world.campaign
    return make_invitation_token(app.extensions["invite_key"], Invitation(student.id, campaign.id))


def test_invitation_link_registers_a_family_member_phone_without_a_code(app, client, world, db, outbox):
    student = world.students_a[1]
    token = _invite(app, world, student)
    page = client.get("/register", query_string={"invite": token}).get_data(as_text=True)
    assert student.name in page and world.class_a.title in page and world.school.name in page
    wrong = client.post("/register", query_string={"invite": token}, data={"consent": "y", "phone": "13812340000"})
    assert wrong.headers["Location"] == "/register/verify" and outbox == []  # the same answer, and nothing sent
    assert "如果 138****0000 是学籍中登记的家庭成员手机号" in client.get("/register/verify").get_data(as_text=True)
    member_phone = student.member(1).value("phone")
    started = client.post("/register", query_string={"invite": token}, data={"consent": "y", "phone": member_phone})
    assert started.headers["Location"] == "/register/verify" and outbox[-1][0] == member_phone
    done = client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": "invited-pass-1",
                                                  "password_confirm": "invited-pass-1"})
    assert done.status_code == 302
    db.commit()
    account = db.scalar(select(ParentAccount).where(ParentAccount.phone == member_phone))
    assert db.scalar(select(Guardianship.student_id).where(Guardianship.parent_id == account.id)) == student.id


def test_invitation_of_an_ended_or_forged_campaign_is_refused(app, client, world, db):
    student = world.students_a[1]
    campaign = db.merge(world.campaign)
    campaign.deadline = local_today() - timedelta(days=2)
    db.commit()
    expired = client.get("/register", query_string={"invite": _invite(app, world, student)}, follow_redirects=True)
    assert "邀请链接已过期" in expired.get_data(as_text=True)
    forged = client.get("/register", query_string={"invite": "i1.3.1." + "0" * 24}, follow_redirects=True)
    assert "邀请链接无效" in forged.get_data(as_text=True)
