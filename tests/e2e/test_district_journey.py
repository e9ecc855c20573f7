"""In a real browser: the county's supervisor opens the district page, drills into a school, approves the key-data
change the school passed on; the parent then sees it applied on their phone."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import Campaign, FieldCorrection, Notification
from confirm.services import keydata, proofs, records, review
from confirm.services.common import Actor
from confirm.services.files import record_file
from tests.conftest import test_app_config
from tests.e2e.browser import DESKTOP_CONTEXT, PHONE_CONTEXT, sign_in
from tests.factories import (
    make_campaign,
    make_class,
    make_district,
    make_parent,
    make_school,
    make_staff,
    make_student,
    make_supervisor,
)
from tests.images import sheet_jpeg
from tests.servers import serve
from webapp import create_app

pytestmark = pytest.mark.browser


def _arrange(app) -> dict:
    """A county with the school; a 民族 change with its proof, passed by the head teacher and the school admin."""
    store = app.extensions["store"]
    with Session(app.extensions["db_engine"], expire_on_commit=False) as s:
        school = make_school(s, name="核办小学")
        campaign = make_campaign(s, school)
        campaign.key_data_needs_district = True
        teacher = make_staff(s, school)
        admin = make_staff(s, school, role="school_admin")
        school_class = make_class(s, school, teacher, name="1班")
        student = make_student(s, school_class)
        parent = make_parent(s, student)
        county = make_district(s, school, name="核办县教育局")
        make_supervisor(s, county, username="county_e2e")
        by_parent = Actor("parent", parent.id)
        confirmation = records.ensure_confirmation(s, s.get(Campaign, campaign.id), student)
        records.save_corrections(s, confirmation, {(0, "ethnicity"): "06"}, actor=by_parent)
        proof = proofs.ProofUpload(sheet_jpeg(), "cd" * 32, "image/jpeg", thumbnail=sheet_jpeg((160, 120)))
        proofs.add_proof(s, confirmation, proof, store=store, actor=by_parent)
        data = sheet_jpeg()
        store.put(f"sheet/{school.id}/e2e.jpg", data, "image/jpeg")
        sheet = record_file(s, student, kind="sheet", storage_key=f"sheet/{school.id}/e2e.jpg",
                            sha256=hashlib.sha256(data).hexdigest(), content_type="image/jpeg", size_bytes=len(data),
                            width=None, height=None, actor=by_parent)
        review.submit_confirmation(s, confirmation, sheet, actor=by_parent)
        review.approve_confirmation(s, confirmation, actor=Actor("staff", teacher.id))
        correction = confirmation.corrections[0]
        keydata.approve_key_correction(s, correction, actor=Actor("staff", admin.id), opinion="经核对户口簿，属实")
        s.commit()
        assert correction.status == "pending_district"
        return {"school": school.name, "class": school_class.title, "student_id": student.id,
                "student": student.name, "phone": parent.phone, "correction_id": correction.id}



def test_supervisor_drills_into_a_school_and_approves_the_change_the_parent_sees_it(browser, db_url, tmp_path):
    from playwright.sync_api import expect

    app = create_app(test_app_config(db_url, tmp_path, WTF_CSRF_ENABLED=True))
    arranged = _arrange(app)
    with serve(app) as base:
        desk = browser.new_context(**DESKTOP_CONTEXT)
        try:
            page = desk.new_page()
            sign_in(page, base, "county_e2e")
            expect(page).to_have_url(f"{base}/district/")
            expect(page.locator("h1")).to_contain_text("核办县教育局")
            table = page.locator("table.district-table")
            expect(table).to_contain_text(arranged["school"])
            expect(page.get_by_role("link", name="关键数据变更核办（1 项待核办）")).to_be_visible()
            assert arranged["student"] not in page.content()  # counts only

            page.get_by_label("查找学校").fill(arranged["school"])
            page.get_by_role("button", name="查找").click()
            expect(page.locator("p.search-result")).to_have_text("找到 1 所学校")
            expect(page.locator("table.district-table")).to_contain_text(arranged["school"])
            page.get_by_role("link", name=arranged["school"]).click()
            expect(page.locator("h1")).to_contain_text(arranged["school"])
            expect(page.locator("table.school-table")).to_contain_text(arranged["class"])
            assert arranged["student"] not in page.content()

            page.get_by_role("link", name="← 返回各校进度").click()
            page.get_by_role("link", name="关键数据变更核办（1 项待核办）").click()
            page.get_by_role("link", name="打开核办").click()
            expect(page.locator("h1")).to_contain_text(arranged["student"])
            expect(page.locator(".changes")).to_contain_text("汉族")
            expect(page.locator(".changes")).to_contain_text("苗族")
            expect(page.get_by_text("经核对户口簿，属实")).to_be_visible()
            expect(page.locator("img.proof-thumb")).to_be_visible()
            page.get_by_role("button", name="核准，更新学籍").click()
            expect(page.locator(".flash-success")).to_contain_text("学籍已更新")
            expect(page.get_by_text("没有待核办的关键数据变更。")).to_be_visible()
        finally:
            desk.close()

        phone = browser.new_context(**PHONE_CONTEXT)
        try:
            page = phone.new_page()
            sign_in(page, base, arranged["phone"])
            page.goto(f"{base}/parent/students/{arranged['student_id']}")
            expect(page.locator("body")).to_contain_text("已生效")
            expect(page.locator("body")).to_contain_text("苗族")
        finally:
            phone.close()
    with Session(app.extensions["db_engine"]) as s:
        assert s.scalar(select(FieldCorrection.status).where(
            FieldCorrection.id == arranged["correction_id"])) == "applied"
        # the family's notice is in the outbox (sent after the commit by the one sender)
        notice = s.scalar(select(Notification).where(Notification.template == "key_data_applied"))
        assert notice.phone == arranged["phone"] and "主管部门" in notice.body
    app.extensions["db_engine"].dispose()
