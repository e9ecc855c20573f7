"""Every place a password is chosen follows the one policy (issue 12 item 4) and says why a password is refused:
parent registration, the forgotten-password reset, the own-password change (also the forced one at a first
sign-in), the admin creating a teacher and the command that creates an admin."""

from __future__ import annotations

from sqlalchemy import select

from confirm.models import ParentAccount, StaffUser
from tests.factories import PASSWORD
from tests.webapp.conftest import sms_code

TOO_COMMON = "这个密码太常见，很容易被猜到"


def signed_in(app, login: str, password: str = PASSWORD):
    client = app.test_client()
    assert client.post("/login", data={"login": login, "password": password}).status_code == 302
    return client


def test_registration_refuses_the_parents_own_phone_keeps_the_code_and_accepts_a_passphrase(client, world, issue,
                                                                                           outbox, db):
    student = world.students_a[1]
    client.post("/register", data={"consent": "y", "code": issue(student), "student_name": student.name,
                                   "phone": "13912345678"})
    code = sms_code(outbox)

    refused = client.post("/register/verify", data={"sms_code": code, "password": "13912345678",
                                                     "password_confirm": "13912345678"})

    assert refused.status_code == 200 and "密码不能包含您的手机号" in refused.get_data(as_text=True)
    assert db.scalar(select(ParentAccount).where(ParentAccount.phone == "13912345678")) is None
    accepted = client.post("/register/verify", data={"sms_code": code, "password": "our family tea garden",
                                                      "password_confirm": "our family tea garden"})
    assert accepted.status_code == 302
    account = db.scalar(select(ParentAccount).where(ParentAccount.phone == "13912345678"))
    assert account is not None and account.platform_no not in "our family tea garden"


def test_registration_refuses_the_childs_birth_date(client, world, issue, outbox):
    student = world.students_a[1]
    birth = student.value("birth_date")
    client.post("/register", data={"consent": "y", "code": issue(student), "student_name": student.name,
                                   "phone": "13912345678"})

    refused = client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": f"baby{birth[2:]}",
                                                     "password_confirm": f"baby{birth[2:]}"})

    assert "密码不能包含孩子的出生日期" in refused.get_data(as_text=True)


def test_a_parent_cannot_change_to_a_common_password_or_their_own_numbers(app, world):
    client = signed_in(app, world.parent.phone)
    for password, why in (("12345678", TOO_COMMON), ("password", TOO_COMMON), (world.parent.phone, "手机号"),
                          (f"pw{world.parent.platform_no}", "平台号")):
        response = client.post("/account/password", data={"password": password, "password_confirm": password})
        assert response.status_code == 200 and why in response.get_data(as_text=True), password
    assert client.post("/account/password", data={"password": "a quiet morning walk",
                                                   "password_confirm": "a quiet morning walk"}).status_code == 302


def test_the_forced_first_sign_in_change_of_a_new_teacher_refuses_11111111(app, world):
    admin = signed_in(app, world.admin.username)
    admin.post("/admin/staff", data={"display_name": "新老师", "username": "new_teacher_2", "phone": "",
                                     "password": "chosen-by-admin-3"})
    newcomer = signed_in(app, "new_teacher_2", "chosen-by-admin-3")

    refused = newcomer.post("/account/password", data={"password": "11111111", "password_confirm": "11111111"})

    assert refused.status_code == 200 and TOO_COMMON in refused.get_data(as_text=True)
    assert newcomer.get("/teacher/").headers["Location"] == "/account/password"  # still to be changed


def test_the_admin_cannot_give_a_new_teacher_11111111(app, world, db):
    admin = signed_in(app, world.admin.username)

    response = admin.post("/admin/staff", data={"display_name": "新老师", "username": "new_teacher_3",
                                                "phone": "", "password": "11111111"})

    assert response.status_code == 400 and TOO_COMMON in response.get_data(as_text=True)
    assert db.scalar(select(StaffUser).where(StaffUser.username == "new_teacher_3")) is None


def test_create_admin_refuses_12345678_with_the_reason(runner, db):
    runner.invoke(args=["create-school", "--code", "5200000002", "--name", "某某市第一小学"])

    result = runner.invoke(args=["create-admin", "--school", "5200000002", "--username", "wang.admin",
                                 "--name", "王老师", "--password", "12345678"])

    assert result.exit_code != 0 and "太常见" in result.output
    assert db.scalar(select(StaffUser).where(StaffUser.username == "wang.admin")) is None


def test_the_forgotten_password_reset_refuses_the_accounts_own_phone_and_the_code_still_works(client, world, outbox):
    client.post("/login/forgot", data={"phone": world.parent.phone})
    code = sms_code(outbox)

    refused = client.post("/login/forgot/verify", data={"sms_code": code, "password": world.parent.phone,
                                                         "password_confirm": world.parent.phone})

    assert refused.status_code == 200 and "密码不能包含您的手机号" in refused.get_data(as_text=True)
    done = client.post("/login/forgot/verify", data={"sms_code": code, "password": "lanterns by the river",
                                                      "password_confirm": "lanterns by the river"})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
