"""The parent's journey: register with a code, check the record, correct fields, upload the sheet, submit."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from confirm.models import (
    Confirmation,
    FieldCorrection,
    Guardianship,
    ParentAccount,
    RateCounter,
    SmsChallenge,
    StoredFile,
)
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes, sms_code


def register(client, outbox, code, name, phone="13912345678", password="secret-pass-1"):
    r1 = client.post("/register", data={"consent": "y", "code": code, "student_name": name, "phone": phone})
    assert r1.status_code == 302, r1.get_data(as_text=True)
    return client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": password,
                                                  "password_confirm": password})


def test_registration_creates_account_with_platform_number_and_links_child(client, world, issue, outbox, db):
    student = world.students_a[1]
    code = issue(student)
    response = register(client, outbox, code.lower().replace("-", " "), student.name)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/parent/students/{student.id}")
    account = db.scalar(select(ParentAccount).where(ParentAccount.phone == "13912345678"))
    assert account is not None and len(account.platform_no) == 8
    assert db.scalar(select(Guardianship).where(Guardianship.parent_id == account.id,
                                                Guardianship.student_id == student.id))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert account.platform_no in page
    assert student.name in page


def test_sms_code_is_stored_hashed_and_sent_only_to_the_phone(client, world, issue, outbox, db):
    code = issue(world.students_a[1])
    client.post("/register", data={"consent": "y", "code": code, "student_name": world.students_a[1].name,
                                   "phone": "13912345678"})
    phone, text = outbox[-1]
    assert phone == "13912345678"
    challenge = db.scalar(select(SmsChallenge))
    assert sms_code(outbox) not in challenge.code_hash and len(challenge.code_hash) == 64


def test_wrong_registration_code_or_name_gets_one_message(client, world, issue):
    code = issue(world.students_a[1])
    for data in ({"code": "ZZZZ-ZZZZ", "student_name": world.students_a[1].name},
                 {"code": code, "student_name": "不是这个名字"}):
        r = client.post("/register", data={"consent": "y", **data, "phone": "13912345678"})
        assert r.status_code == 200
        assert "注册码或学生姓名不正确" in r.get_data(as_text=True)


def test_used_registration_code_is_refused_with_advice(client, world, issue, outbox):
    student = world.students_a[1]
    code = issue(student)
    register(client, outbox, code, student.name)
    client.post("/logout")
    r = client.post("/register", data={"consent": "y", "code": code, "student_name": student.name,
                                       "phone": "13700000000"})
    assert "该注册码已被使用" in r.get_data(as_text=True)


def test_wrong_sms_code_counts_tries_and_locks_after_five(client, world, issue, outbox, db):
    code = issue(world.students_a[1])
    client.post("/register", data={"consent": "y", "code": code, "student_name": world.students_a[1].name,
                                   "phone": "13912345678"})
    right = sms_code(outbox)
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        r = client.post("/register/verify", data={"sms_code": wrong, "password": "secret-pass-1",
                                                   "password_confirm": "secret-pass-1"})
        assert f"还可以尝试 {left} 次" in r.get_data(as_text=True)
    r = client.post("/register/verify", data={"sms_code": wrong, "password": "secret-pass-1",
                                               "password_confirm": "secret-pass-1"})
    assert "错误次数过多" in r.get_data(as_text=True)
    r = client.post("/register/verify", data={"sms_code": right, "password": "secret-pass-1",
                                               "password_confirm": "secret-pass-1"})
    assert "错误次数过多" in r.get_data(as_text=True)
    assert db.scalar(select(ParentAccount).where(ParentAccount.phone == "13912345678")) is None


def test_expired_sms_code_is_refused(client, world, issue, outbox, db):
    code = issue(world.students_a[1])
    client.post("/register", data={"consent": "y", "code": code, "student_name": world.students_a[1].name,
                                   "phone": "13912345678"})
    challenge = db.scalar(select(SmsChallenge))
    challenge.expires_at = challenge.created_at - timedelta(seconds=1)
    db.commit()
    r = client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": "secret-pass-1",
                                               "password_confirm": "secret-pass-1"})
    assert "验证码已过期" in r.get_data(as_text=True)


def test_sms_code_works_only_once(client, world, issue, outbox, db):
    student = world.students_a[1]
    code = issue(student)
    register(client, outbox, code, student.name)
    client.post("/logout")
    with client.session_transaction() as sess:
        sess["reg_challenge"] = db.scalar(select(SmsChallenge.id))
    r = client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": "secret-pass-1",
                                               "password_confirm": "secret-pass-1"})
    assert "验证码已失效" in r.get_data(as_text=True)


def test_second_child_is_added_to_the_existing_account(client, world, issue, outbox, db, auth):
    second = world.students_a[2]
    code = issue(second)
    client.post("/register", data={"consent": "y", "code": code, "student_name": second.name,
                                   "phone": world.parent.phone})
    r = client.post("/register/verify", data={"sms_code": sms_code(outbox)})
    assert r.status_code == 302
    links = db.scalars(select(Guardianship.student_id).where(Guardianship.parent_id == world.parent.id)).all()
    assert set(links) == {world.students_a[0].id, second.id}
    page = client.get(f"/parent/students/{second.id}").get_data(as_text=True)
    assert world.students_a[0].name in page  # the switcher offers the other child


def test_parent_sees_every_parent_visible_field_with_its_value(client, world, auth):
    auth.login(world.parent.platform_no, PASSWORD)
    student = world.students_a[0]
    page = client.get(f"/parent/students/{student.id}").get_data(as_text=True)
    for label, value in (("姓名", student.name), ("身份证件号", student.id_number), ("民族", "汉族"),
                         ("户口性质", "非农业户口"), ("家庭成员或监护人信息 1", "家长")):
        assert label in page and value in page


def test_invalid_id_correction_is_refused_and_other_corrections_are_kept(client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    student = world.students_a[0]
    bad_id = student.id_number[:-1] + ("0" if student.id_number[-1] != "0" else "1")
    r = client.post(f"/parent/students/{student.id}",
                    data={"c0-id_number": bad_id, "c0-current_address": "贵阳市新地址8号"})
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "校验" in body
    assert "贵阳市新地址8号" in body  # what the parent typed is still on the page
    assert db.scalar(select(FieldCorrection)) is None


def test_corrections_are_saved_and_shown_as_old_to_new(client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    student = world.students_a[0]
    r = client.post(f"/parent/students/{student.id}", data={"c0-current_address": "贵阳市新地址8号",
                                                            "c1-phone": "13911112222"})
    assert r.status_code == 302
    rows = {(c.slot, c.field_key): c for c in db.scalars(select(FieldCorrection))}
    assert rows[(0, "current_address")].old_value == "贵阳市测试路1号"
    assert rows[(0, "current_address")].new_value == "贵阳市新地址8号"
    assert rows[(1, "phone")].new_value == "13911112222"
    page = client.get(f"/parent/students/{student.id}").get_data(as_text=True)
    assert "→ 贵阳市新地址8号" in page


def test_submitting_the_sheet_photo_moves_to_waiting_for_review(client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    student = world.students_a[0]
    client.post(f"/parent/students/{student.id}", data={"c0-current_address": "贵阳市新地址8号"})
    r = client.post(f"/parent/students/{student.id}/submit",
                    data={"sheet": (io.BytesIO(jpeg_bytes()), "IMG_0001.jpg"), "confirmed": "y"},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    confirmation = db.scalar(select(Confirmation))
    assert confirmation.state == "submitted"
    stored = db.get(StoredFile, confirmation.sheet_file_id)
    assert "IMG_0001" not in stored.storage_key
    page = client.get(f"/parent/students/{student.id}").get_data(as_text=True)
    assert "待审核" in page


def test_non_image_upload_is_refused_and_nothing_is_stored(client, world, auth, db, app):
    auth.login(world.parent.phone, PASSWORD)
    student = world.students_a[0]
    r = client.post(f"/parent/students/{student.id}/submit",
                    data={"sheet": (io.BytesIO(b"<html>not a photo</html>"), "sheet.jpg"), "confirmed": "y"},
                    content_type="multipart/form-data")
    assert r.status_code == 400  # refused: the upload page with the reason
    assert "无法识别的文件" in r.get_data(as_text=True)
    assert db.scalar(select(StoredFile)) is None
    assert db.scalar(select(Confirmation.state)) in (None, "open")


def test_upload_too_large_gets_a_413_in_chinese(client, world, auth, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    auth.login(world.parent.phone, PASSWORD)
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"sheet\"; filename=\"big.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    body += b"\xff" * (2 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    r = client.post(f"/parent/students/{world.students_a[0].id}/submit", data=body,
                    content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 413
    assert "文件太大" in r.get_data(as_text=True)


def test_submit_without_ticking_the_confirmation_is_refused(client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    r = client.post(f"/parent/students/{world.students_a[0].id}/submit",
                    data={"sheet": (io.BytesIO(jpeg_bytes()), "a.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 400  # refused: the upload page with the reason
    body = r.get_data(as_text=True)
    assert "请确认您已核对信息并签字" in body
    # without JavaScript the reason is at the top of the page, linked to the tick box it is about
    assert '<div class="flash flash-error" role="alert" id="problems">' in body and '<a href="#confirmed">' in body
    assert db.scalar(select(StoredFile)) is None


def test_resending_the_sms_code_keeps_the_step_and_the_new_code_works(client, world, issue, outbox, db):
    student = world.students_a[1]
    code = issue(student)
    client.post("/register", data={"consent": "y", "code": code, "student_name": student.name, "phone": "13912345678"})
    for counter in db.scalars(select(RateCounter)):  # a minute later: past the resend interval
        counter.started_at -= timedelta(seconds=61)
    db.commit()
    response = client.post("/register/resend", follow_redirects=True)
    assert "验证码已重新发送" in response.get_data(as_text=True)
    assert len(outbox) == 2 and outbox[-1][0] == "13912345678"
    r = client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": "secret-pass-1",
                                               "password_confirm": "secret-pass-1"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/parent/students/{student.id}")


def test_resending_too_soon_says_how_long_to_wait(client, world, issue, outbox):
    student = world.students_a[1]
    client.post("/register", data={"consent": "y", "code": issue(student), "student_name": student.name,
                                   "phone": "13912345678"})
    response = client.post("/register/resend", follow_redirects=True)
    assert "秒后再试" in response.get_data(as_text=True)
    assert len(outbox) == 1


def test_without_a_running_campaign_upload_pages_send_the_parent_back_with_a_message(client, world, auth, db):
    db.merge(world.campaign).is_active = False
    db.commit()
    auth.login(world.parent.phone, PASSWORD)
    student = world.students_a[0]
    for response in (client.get(f"/parent/students/{student.id}/submit"),
                     client.post(f"/parent/students/{student.id}/proofs", data={})):
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/parent/students/{student.id}")
    page = client.get(f"/parent/students/{student.id}").get_data(as_text=True)
    assert "学校还没有开始本次信息核查" in page
