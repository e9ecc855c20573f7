"""Staff account life (issue 12): every staff user changes their own password; a new or reset account chooses its
own at the first sign-in; the admin sends a teacher a temporary password by SMS, deactivates and reactivates them
(sessions end, classes keep them), sees each one's last sign-in; sensitive admin steps need a recent password."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from confirm.errors import FieldErrors
from confirm.models import AuditEvent, SchoolClass, StaffUser
from confirm.services.common import SYSTEM
from confirm.services.staff import set_staff_active
from tests.factories import PASSWORD, make_staff

TEACHER_PHONE = "13700002222"


def staff_client(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    assert client.post("/login", data={"login": username, "password": password}).status_code == 302
    return client


def lands_on_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def admin(app, world):
    return staff_client(app, world.admin.username)


@pytest.fixture
def teacher(world, db):
    """The head teacher of class A, with a phone on record."""
    teacher = db.merge(world.teacher)
    teacher.phone = TEACHER_PHONE
    db.commit()
    return teacher


def test_a_head_teacher_changes_their_own_password(app, world):
    client = staff_client(app, world.teacher.username)

    response = client.post("/account/password", data={"password": "teacher-own-pass-8",
                                                       "password_confirm": "teacher-own-pass-8"})

    assert response.status_code == 302
    staff_client(app, world.teacher.username, "teacher-own-pass-8")


def test_a_new_staff_account_must_choose_its_password_before_anything_else(app, world, admin, db):
    admin.post("/admin/staff", data={"display_name": "新老师", "username": "new_teacher_1", "phone": "",
                                     "password": "chosen-by-admin-3"})
    newcomer = staff_client(app, "new_teacher_1", "chosen-by-admin-3")

    assert newcomer.get("/teacher/").headers["Location"] == "/account/password"
    assert "这个账号的密码是别人为您设置的" in newcomer.get("/account/password").get_data(as_text=True)
    newcomer.post("/account/password", data={"password": "my-own-secret-44", "password_confirm": "my-own-secret-44"})
    assert not lands_on_login(newcomer.get("/teacher/")) and newcomer.get("/teacher/").status_code in (200, 302)
    assert newcomer.get("/teacher/").headers.get("Location") != "/account/password"


def test_the_admin_resets_a_teachers_password_by_sms_and_the_teacher_must_choose_a_new_one(app, world, admin, teacher,
                                                                                         outbox, db):
    signed_in = staff_client(app, teacher.username)

    response = admin.post("/admin/staff/reset-password", data={"staff_id": teacher.id}, follow_redirects=True)

    assert "已把临时密码用短信发给" in response.get_data(as_text=True)
    phone, text = outbox[-1]
    temporary = text.split("临时密码：")[1][:10]
    assert phone == TEACHER_PHONE and teacher.username in text
    assert temporary not in response.get_data(as_text=True)  # the admin never sees it
    assert lands_on_login(signed_in.get("/teacher/"))  # the teacher's open session ended
    again = staff_client(app, teacher.username, temporary)
    assert again.get("/teacher/").headers["Location"] == "/account/password"
    reused = again.post("/account/password", data={"password": temporary, "password_confirm": temporary})
    assert "新密码不能与现在的密码相同" in reused.get_data(as_text=True)
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "staff.password_reset")) is not None


def test_a_reset_without_a_phone_on_record_says_to_record_one_first(world, admin, outbox):
    response = admin.post("/admin/staff/reset-password", data={"staff_id": world.teacher.id}, follow_redirects=True)

    assert "还没有登记手机号" in response.get_data(as_text=True) and outbox == []


def test_a_deactivated_teachers_open_browser_lands_on_the_login_page_and_the_class_keeps_them(app, world, admin, db):
    open_browser = staff_client(app, world.teacher.username)

    admin.post("/admin/staff/deactivate", data={"staff_id": world.teacher.id})

    assert lands_on_login(open_browser.get("/teacher/"))
    refused = app.test_client().post("/login", data={"login": world.teacher.username, "password": PASSWORD})
    assert refused.status_code == 200 and "账号或密码不正确" in refused.get_data(as_text=True)
    db.commit()
    assert db.get(SchoolClass, world.class_a.id).head_teacher_id == world.teacher.id
    page = admin.get("/admin/staff").get_data(as_text=True)
    assert "已停用" in page and "重新启用" in page

    admin.post("/admin/staff/reactivate", data={"staff_id": world.teacher.id})

    staff_client(app, world.teacher.username)


def test_the_admin_cannot_deactivate_their_own_account(world, admin, db):
    response = admin.post("/admin/staff/deactivate", data={"staff_id": world.admin.id}, follow_redirects=True)

    assert "不能停用您自己的账号" in response.get_data(as_text=True)
    db.commit()
    assert db.get(StaffUser, world.admin.id).is_active


def test_the_last_active_admin_of_a_school_is_never_deactivated(world, db):
    with pytest.raises(FieldErrors) as refused:
        set_staff_active(db, world.school, world.admin.id, False, actor=SYSTEM)

    assert "唯一在用的学籍管理员" in str(refused.value.errors[0][1].text)
    second = make_staff(db, world.school, role="school_admin")
    set_staff_active(db, world.school, world.admin.id, False, actor=SYSTEM)  # another admin remains
    assert not db.get(StaffUser, world.admin.id).is_active and second.is_active


def test_the_staff_page_shows_each_accounts_last_sign_in_and_classes(app, world, admin):
    staff_client(app, world.teacher.username)

    page = admin.get("/admin/staff").get_data(as_text=True)

    row = page.split(world.teacher.username, 1)[1].split("</tr>", 1)[0]
    assert "从未登录" not in row and world.class_a.title in row
    other = page.split(world.other_teacher.username, 1)[1].split("</tr>", 1)[0]
    assert "从未登录" in other


def test_a_sensitive_admin_step_asks_for_the_password_when_it_was_typed_long_ago(app, world, admin, teacher,
                                                                                 monkeypatch, outbox):
    import webapp.auth.fresh as fresh

    later = time.time() + 6 * 60
    monkeypatch.setattr(fresh, "_clock", lambda: later)

    asked = admin.post("/admin/staff/reset-password", data={"staff_id": teacher.id})

    assert asked.status_code == 302 and asked.headers["Location"].startswith("/account/confirm")
    assert outbox == []
    wrong = admin.post(asked.headers["Location"], data={"password": "not-it"})
    assert "当前密码不正确" in wrong.get_data(as_text=True)
    back = admin.post(asked.headers["Location"], data={"password": PASSWORD})
    assert back.headers["Location"] == "/admin/staff"
    admin.post("/admin/staff/reset-password", data={"staff_id": teacher.id})
    assert outbox and outbox[-1][0] == TEACHER_PHONE
