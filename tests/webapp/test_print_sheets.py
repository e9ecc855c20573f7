"""Printable confirmation sheets: one A4 page per student from the field schema, with its QR code, as a PDF."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from confirm.fields import MEMBER_FIELDS, STUDENT_FIELDS
from confirm.models import AuditEvent, Campaign, RegistrationCode
from confirm.presentation import readable
from confirm.services.registration import code_hash
from confirm.sheets import SheetRef, make_sheet_payload, parse_sheet_payload
from tests.factories import PASSWORD
from tests.webapp.conftest import World
from uploads.qr import find_qr

pytestmark = pytest.mark.skipif(not Path("/usr/bin/pdftotext").exists(), reason="needs poppler-utils")

CODE = re.compile(r"家长注册码：([0-9A-Z]{4}-[0-9A-Z]{4})")


def _print(client, world: World, **form):
    data = {"scope": "all", **form}
    return client.post(f"/teacher/classes/{world.class_a.id}/sheets", data=data)


def _pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, in drawing order, without white space (wrapped cells read as one string)."""
    path = tmp_path / "sheets.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return [re.sub(r"\s+", "", page) for page in text.split("\f")[:-1]]


def _no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_class_pdf_has_a_page_per_student_with_every_field_label_and_value(client, auth, world, db, tmp_path):
    auth.login(world.teacher.username, PASSWORD)
    response = _print(client, world)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    pages = _pages(response.data, tmp_path)
    students = sorted(world.students_a, key=lambda s: (s.name, s.id))
    assert len(pages) == len(students)
    for page, student in zip(pages, students, strict=True):
        db.refresh(student)
        assert _no_space(f"学生：{student.name}拍照上传号：{student.upload_no}") in page
        assert world.school.name in page and world.class_a.title.replace(" ", "") in page
        for f in STUDENT_FIELDS:
            assert _no_space(f.label_zh) in page, f.key
            if student.value(f.key):
                assert _no_space(readable(f, student.value(f.key))) in page, f.key
        for f in MEMBER_FIELDS:
            assert _no_space(f.label_zh) in page
            for member in student.members:
                if member.value(f.key):
                    assert _no_space(readable(f, member.value(f.key))) in page, f.key
        assert "学校维护" in page and "监护人签字" in page
        assert "家长注册码" not in page  # only the invitation variant has codes
    printed = db.scalars(select(AuditEvent).where(AuditEvent.action == "sheets.printed")).one()
    assert printed.detail["count"] == 3 and printed.detail["codes"] == 0


def test_pdf_embeds_a_subset_of_a_cjk_truetype_font(client, auth, world, tmp_path):
    auth.login(world.teacher.username, PASSWORD)
    path = tmp_path / "sheets.pdf"
    path.write_bytes(_print(client, world).data)
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()
    rows = [line.split() for line in fonts[2:]]
    assert rows and all(row[-5:-2] == ["yes", "yes", "yes"] for row in rows), fonts  # emb sub uni


def test_page_qr_code_decodes_to_the_students_signed_sheet_payload(client, auth, world, app, db, tmp_path):
    auth.login(world.teacher.username, PASSWORD)
    student = world.students_a[1]
    response = _print(client, world, scope="selected", students=[str(student.id)])
    (tmp_path / "one.pdf").write_bytes(response.data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", str(tmp_path / "one.pdf"),
                    str(tmp_path / "page")], check=True)
    with Image.open(tmp_path / "page.png") as image:
        assert image.size == (1241, 1754)  # A4 at 150 dpi
        found = find_qr(image.convert("RGB"))
    db.refresh(student)
    key = app.extensions["sheet_key"]
    assert found.text == make_sheet_payload(key, SheetRef(student.id, world.campaign.id, student.record_version))
    assert parse_sheet_payload(key, found.text) == SheetRef(student.id, world.campaign.id, student.record_version)


def test_selection_prints_only_the_chosen_students(client, auth, world, tmp_path):
    auth.login(world.teacher.username, PASSWORD)
    chosen = world.students_a[2]
    pages = _pages(_print(client, world, scope="selected", students=[str(chosen.id)]).data, tmp_path)
    assert len(pages) == 1
    assert chosen.name in pages[0]
    assert not any(other.name in pages[0] for other in world.students_a if other is not chosen)


def test_ticked_students_are_printed_even_if_whole_class_was_left_selected(client, auth, world, tmp_path):
    auth.login(world.teacher.username, PASSWORD)
    chosen = world.students_a[1]
    pages = _pages(_print(client, world, scope="all", students=[str(chosen.id)]).data, tmp_path)
    assert len(pages) == 1 and chosen.name in pages[0]


def test_selection_naming_another_classs_student_is_refused_and_prints_nothing(client, auth, world, db):
    auth.login(world.teacher.username, PASSWORD)
    response = _print(client, world, scope="selected", students=[str(world.students_a[0].id),
                                                                  str(world.students_b[0].id)])
    assert response.status_code == 400
    assert "所选学生不在这个班级里" in response.get_data(as_text=True)
    assert world.students_b[0].name not in response.get_data(as_text=True)
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "sheets.printed")) is None


def test_invitation_prints_fresh_codes_for_unregistered_students_and_voids_earlier_ones(client, auth, world, db,
                                                                                       app, issue, tmp_path):
    earlier = issue(world.students_a[1])
    auth.login(world.teacher.username, PASSWORD)
    response = _print(client, world, invitation="y")
    assert response.status_code == 200
    pages = _pages(response.data, tmp_path)
    by_name = {s.name: s for s in world.students_a}
    codes = {}
    for page in pages:
        name = next(n for n in by_name if f"学生：{n}拍照上传号" in page)
        match = CODE.search(page)
        codes[name] = match.group(1) if match else None
    registered = world.students_a[0]  # linked to world.parent
    assert codes.pop(registered.name) is None
    assert "家长已在平台注册" in next(p for p in pages if registered.name in p)
    assert len(codes) == 2 and all(codes.values()) and earlier not in codes.values()
    key = app.extensions["code_key"]
    for name, code in codes.items():
        row = db.scalar(select(RegistrationCode).where(RegistrationCode.code_hash == code_hash(key, code)))
        assert row.student_id == by_name[name].id and row.revoked_at is None
    old = db.scalar(select(RegistrationCode).where(RegistrationCode.code_hash == code_hash(key, earlier)))
    assert old.revoked_at is not None


def test_more_sheets_than_the_limit_are_refused_with_a_clear_message(client, auth, world, db, monkeypatch):
    monkeypatch.setattr("confirm.services.sheet_printing.MAX_SHEETS", 2)
    auth.login(world.teacher.username, PASSWORD)
    response = _print(client, world, invitation="y")
    assert response.status_code == 400
    assert "一次最多打印 2 份确认表（这次选了 3 名学生）" in response.get_data(as_text=True)
    assert db.scalar(select(RegistrationCode.id)) is None


def test_missing_cjk_font_gives_a_clear_error_and_issues_no_codes(client, auth, world, app, db):
    app.config["SHEET_FONT"] = "/nonexistent/font.ttf"
    auth.login(world.teacher.username, PASSWORD)
    response = _print(client, world, invitation="y")
    assert response.status_code == 503
    assert "缺少打印确认表所需的中文字体" in response.get_data(as_text=True)
    assert db.scalar(select(RegistrationCode.id)) is None


def test_print_page_lists_the_class_and_says_reprinting_voids_codes(client, auth, world):
    auth.login(world.teacher.username, PASSWORD)
    body = client.get(f"/teacher/classes/{world.class_a.id}/sheets").get_data(as_text=True)
    assert all(s.name in body for s in world.students_a)
    assert not any(s.name in body for s in world.students_b)
    assert "之前发出的未使用注册码全部作废" in body
    assert "js/download.js" in body


def test_cli_writes_the_class_pdf_and_refuses_more_than_the_limit(app, runner, world, db, tmp_path, monkeypatch):
    out = tmp_path / "c.pdf"
    result = runner.invoke(args=["print-sheets", "--school", world.school.code, "--class", "1班", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 sheets on 3 pages" in result.output
    assert len(_pages(out.read_bytes(), tmp_path)) == 3
    monkeypatch.setattr("confirm.services.sheet_printing.MAX_SHEETS", 4)
    whole = tmp_path / "school.pdf"
    result = runner.invoke(args=["print-sheets", "--school", world.school.code, "--invitation", "-o", str(whole)])
    assert result.exit_code != 0
    assert "一次最多打印 4 份确认表（这次选了 5 名学生）" in result.output
    assert not whole.exists() and db.scalar(select(RegistrationCode.id)) is None


def test_admin_switches_the_sheet_qr_rule_on_and_off(client, auth, world, db):
    auth.login(world.admin.username, PASSWORD)
    assert client.post("/admin/campaign/sheet-qr", data={"require_sheet_qr": "y"}).status_code == 302
    assert db.scalar(select(Campaign.require_sheet_qr).where(Campaign.id == world.campaign.id)) is True
    assert "要求上传的确认表带有平台二维码" in client.get("/admin/").get_data(as_text=True)
    client.post("/admin/campaign/sheet-qr", data={})
    db.expire_all()
    assert db.scalar(select(Campaign.require_sheet_qr).where(Campaign.id == world.campaign.id)) is False
