"""What a parent or teacher types with a Chinese input method in full-width mode is read as they meant it."""

from __future__ import annotations

from sqlalchemy import select

from confirm.models import Guardianship, ParentAccount
from tests.factories import PASSWORD
from tests.webapp.conftest import sms_code

_WIDE = {cp: cp + 0xFEE0 for cp in range(0x21, 0x7F)}


def wide(text: str) -> str:
    """``text`` as a Chinese input method in full-width mode types it (the dash a full-width hyphen)."""
    return text.translate(_WIDE)


def test_parent_registers_with_code_phone_and_sms_code_all_typed_in_full_width(client, world, issue, outbox, db):
    student = world.students_a[1]
    code = issue(student)  # e.g. D376-UG23, typed as Ｄ３７６－ＵＧ２３
    start = client.post("/register", data={"consent": "y", "code": wide(code), "student_name": student.name,
                                           "phone": "１３９—１２３４—５６７８"})
    assert start.status_code == 302, start.get_data(as_text=True)
    assert outbox[-1][0] == "13912345678"
    verify = client.post("/register/verify", data={"sms_code": wide(sms_code(outbox)), "password": "secret-pass-1",
                                                   "password_confirm": "secret-pass-1"})
    assert verify.status_code == 302
    account = db.scalar(select(ParentAccount).where(ParentAccount.phone == "13912345678"))
    assert account is not None
    assert db.scalar(select(Guardianship).where(Guardianship.parent_id == account.id,
                                                Guardianship.student_id == student.id))


def test_parent_signs_in_with_the_platform_number_or_phone_typed_in_full_width(client, world):
    for login in (wide(world.parent.platform_no), "１３８－００００－０００１"):
        response = client.post("/login", data={"login": login, "password": PASSWORD})
        assert response.status_code == 302, login
        assert "/parent" in response.headers["Location"]
        client.post("/logout")


def test_teacher_finds_a_sheet_by_its_upload_number_typed_in_full_width(client, world):
    client.post("/login", data={"login": world.teacher.username, "password": PASSWORD})
    student = world.students_a[1]
    page = client.get(f"/teacher/classes/{world.class_a.id}/upload",
                      query_string={"upload_no": wide(student.upload_no)})
    assert page.status_code == 200
    assert student.name in page.get_data(as_text=True)


def test_admin_adds_a_teacher_whose_phone_is_typed_with_chinese_dashes(client, world, db):
    from confirm.models import StaffUser

    client.post("/login", data={"login": world.admin.username, "password": PASSWORD})
    response = client.post("/admin/staff", data={"display_name": "王老师", "username": "wang_t",
                                                 "phone": "１３７—００００—１１１１", "password": "a-long-pass-9"})
    assert response.status_code == 302, response.get_data(as_text=True)
    staff = db.scalar(select(StaffUser).where(StaffUser.username == "wang_t"))
    assert staff is not None and staff.phone == "13700001111"
