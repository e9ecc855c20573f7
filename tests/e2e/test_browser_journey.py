"""The whole journey in a real browser: a parent registers and confirms on a phone, the head teacher approves.

Runs headless Chromium against the app served over HTTP with CSRF protection on. Screenshots of the
parent's record page and the teacher's review page go to $SCREENSHOT_DIR (``make screenshots``).
"""

from __future__ import annotations

import re
import time

import pytest
from PIL import ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import ParentAccount
from tests.e2e.browser import DESKTOP_CONTEXT, PHONE_CONTEXT, sign_in
from tests.e2e.conftest import ACTION_TIMEOUT_MS
from tests.images import sheet_image

pytestmark = pytest.mark.browser

PHONE = "13912345678"
PARENT_PASSWORD = "secret-pass-1"
NEW_ADDRESS = "贵阳市云岩区新地址8号"


def sheet_photo(path):
    """A photo of a printed, signed form on a desk (passes the quality gate)."""
    image = sheet_image((1600, 1200))
    ImageDraw.Draw(image).line((900, 1060, 1230, 1030), fill=(20, 40, 120), width=8)  # the "signature"
    image.save(path, "JPEG", quality=80)
    return path


def watch_page(page, problems: list[str]) -> None:
    """Collect JavaScript errors, console errors (CSP violations) and failed loads of ``page``.

    The only tolerated failure is the browser's own request for /favicon.ico, which the app does not serve.
    """

    def on_console(msg):
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{page.url}: console: {msg.text} ({msg.location.get('url')})")

    def on_response(response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"{page.url}: HTTP {response.status} for {response.url}")

    page.on("pageerror", lambda exc: problems.append(f"{page.url}: page error: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)


def assert_fits_the_screen(page) -> None:
    """Nothing on a phone page is wider than the screen (no sideways scrolling)."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]}px wide on a {widths[1]}px screen"


def full_page_screenshot(page, path) -> None:
    """The whole page, one image pixel per CSS pixel.

    The viewport is stretched to the page height first, so the sticky action bar is drawn where it ends up
    (under the last section) rather than floating over the middle of the page at the first screen's bottom.
    """
    viewport = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": height})
    try:
        page.screenshot(path=str(path), full_page=True, scale="css")
    finally:
        page.set_viewport_size(viewport)


def newest_sms(outbox: list, within: float = 10.0) -> tuple[str, str]:
    """The newest SMS, waiting for it: the code goes out right after the response, which the page may beat."""
    deadline = time.monotonic() + within
    while not outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    return outbox[-1]


def test_parent_registers_corrects_uploads_and_teacher_approves(browser, live_server, tmp_path, screenshot_dir):
    from playwright.sync_api import expect

    base = live_server.url
    problems: list[str] = []

    # ---- the parent, on a phone inside WeChat ----
    parent_ctx = browser.new_context(**PHONE_CONTEXT)
    try:
        parent_ctx.set_default_timeout(ACTION_TIMEOUT_MS)
        parent_ctx.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        page = parent_ctx.new_page()
        watch_page(page, problems)

        # CSRF is really on: a form post without the token is refused.
        assert parent_ctx.request.post(f"{base}/login", form={"login": "x", "password": "y"}).status == 400

        page.goto(f"{base}/register")
        expect(page.get_by_role("heading", name="家长注册")).to_be_visible()
        assert_fits_the_screen(page)
        page.locator("input[name=code]").fill(live_server.registration_code)
        page.locator("input[name=student_name]").fill(live_server.student_name)
        page.locator("input[name=phone]").fill(PHONE)
        page.locator("input[name=consent]").check()  # the guardian agrees to the privacy notice
        page.get_by_role("button", name="获取短信验证码").click()

        expect(page).to_have_url(re.compile(r"/register/verify$"))
        expect(page.get_by_text("验证码已发送到")).to_be_visible()
        phone, text = newest_sms(live_server.outbox)
        assert phone == PHONE
        sms_code = re.search(r"\b(\d{6})\b", text).group(1)
        page.locator("input[name=sms_code]").fill(sms_code)
        page.locator("input[name=password]").fill(PARENT_PASSWORD)
        page.locator("input[name=password_confirm]").fill(PARENT_PASSWORD)
        page.get_by_role("button", name="完成注册").click()

        expect(page).to_have_url(re.compile(rf"/parent/students/{live_server.student_id}$"))
        with Session(live_server.app.extensions["db_engine"]) as s:
            platform_no = s.scalar(select(ParentAccount.platform_no).where(ParentAccount.phone == PHONE))
        assert platform_no
        expect(page.locator(".flash-success")).to_contain_text(platform_no)
        expect(page.get_by_role("heading", level=1)).to_contain_text(live_server.student_name)
        expect(page.locator(".status")).to_contain_text("已注册未提交")

        # Correct the current address.
        row = page.locator("#row-c0-current_address")
        expect(row.locator(".value")).to_have_text(live_server.student_address)
        row.locator("a.edit").click()  # the editor opens in place, fetched when asked for
        address_input = row.locator("input[name='c0-current_address']")
        expect(address_input).to_be_visible()
        address_input.fill(NEW_ADDRESS)
        page.get_by_role("button", name="保存更正").click()

        expect(page.locator(".flash-success")).to_contain_text("已保存 1 项更正")
        row = page.locator("#row-c0-current_address")
        expect(row.locator(".value")).to_have_text(live_server.student_address)
        expect(row.locator(".new-value")).to_have_text(f"→ {NEW_ADDRESS}")
        assert_fits_the_screen(page)
        full_page_screenshot(page, screenshot_dir / "parent-record.png")

        # Upload the signed sheet and submit.
        page.get_by_role("button", name="保存并上传确认表").click()
        expect(page).to_have_url(re.compile(rf"/parent/students/{live_server.student_id}/submit$"))
        expect(page.locator("ul.changes")).to_contain_text(NEW_ADDRESS)
        assert_fits_the_screen(page)
        page.locator("input[name=sheet]").set_input_files(str(sheet_photo(tmp_path / "IMG_20260901_0815.jpg")))
        page.locator("input[name=confirmed]").check()
        page.get_by_role("button", name="提交").click()

        expect(page).to_have_url(re.compile(rf"/parent/students/{live_server.student_id}$"))
        expect(page.locator(".flash-success")).to_contain_text("提交成功")
        expect(page.locator(".status-submitted")).to_contain_text("待审核")
        expect(page.get_by_role("button", name="保存更正")).to_have_count(0)  # no more edits while waiting
    finally:
        parent_ctx.close()

    # ---- the head teacher, on a desktop ----
    teacher_ctx = browser.new_context(**DESKTOP_CONTEXT)
    try:
        teacher_ctx.set_default_timeout(ACTION_TIMEOUT_MS)
        teacher_ctx.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        page = teacher_ctx.new_page()
        watch_page(page, problems)

        sign_in(page, base, live_server.teacher_username)

        expect(page).to_have_url(re.compile(rf"/teacher/classes/{live_server.class_id}$"))
        legend = page.locator("ul.legend > li")
        expect(legend.filter(has_text="待审核").locator("strong")).to_have_text("1")
        expect(legend.filter(has_text="已通过").locator("strong")).to_have_text("0")

        student_row = page.locator("table.table tbody tr").filter(has_text=live_server.student_name)
        expect(student_row).to_contain_text("待审核")
        student_row.get_by_role("link", name="审核").click()

        expect(page).to_have_url(re.compile(rf"/teacher/students/{live_server.student_id}$"))
        change = page.locator("table.changes tbody tr").filter(has_text="现住址")
        expect(change.locator("del")).to_have_text(live_server.student_address)
        expect(change.locator("ins")).to_have_text(NEW_ADDRESS)
        sheet = page.locator("img.sheet")
        expect(sheet).to_be_visible()
        page.wait_for_function(
            "() => { const i = document.querySelector('img.sheet'); return i && i.complete && i.naturalWidth > 0; }",
            timeout=ACTION_TIMEOUT_MS,
        )
        assert sheet.evaluate("img => img.naturalWidth") > 0
        full_page_screenshot(page, screenshot_dir / "teacher-review.png")

        page.get_by_role("button", name="审核通过").click()
        expect(page).to_have_url(re.compile(rf"/teacher/classes/{live_server.class_id}\?stage=submitted$"))
        expect(page.locator(".flash-success").filter(has_text=live_server.student_name)).to_have_count(1)
        legend = page.locator("ul.legend > li")
        expect(legend.filter(has_text="已通过").locator("strong")).to_have_text("1")
        expect(legend.filter(has_text="待审核").locator("strong")).to_have_text("0")
    finally:
        teacher_ctx.close()

    assert problems == []


def test_a_key_data_correction_the_school_turned_down_is_fixed_by_the_parent_and_approved(
        browser, db_url, tmp_path, screenshot_dir):
    """Round one through the services (correction 民族, proof, sheet, teacher, admin turns it down); round two in
    the browser: the parent reads why, sends a new proof; the admin approves it; the parent sees it applied."""
    from playwright.sync_api import expect

    from confirm.services import keydata, proofs, records, review
    from confirm.services.common import Actor
    from confirm.services.files import record_file
    from tests.conftest import test_app_config
    from tests.factories import make_campaign, make_class, make_parent, make_school, make_staff, make_student
    from tests.servers import serve
    from webapp import create_app

    app = create_app(test_app_config(db_url, tmp_path, WTF_CSRF_ENABLED=True))
    with Session(app.extensions["db_engine"], expire_on_commit=False) as s:
        school = make_school(s)
        campaign = make_campaign(s, school)
        admin = make_staff(s, school, role="school_admin", username="admin_e2e")
        teacher = make_staff(s, school, username="teacher_e2e2")
        student = make_student(s, make_class(s, school, teacher, name="2班"), ethnicity="03")
        parent = make_parent(s, student, phone="13912340077")
        by_parent, store = Actor("parent", parent.id), app.extensions["store"]
        confirmation = records.ensure_confirmation(s, campaign, student)
        records.save_corrections(s, confirmation, {(0, "ethnicity"): "06"}, actor=by_parent)
        proofs.add_proof(s, confirmation, proofs.ProofUpload(b"first-proof", "11" * 32, "image/jpeg"), store=store,
                         actor=by_parent)
        sheet = record_file(s, student, kind="sheet", storage_key="sheet/e2e.jpg", sha256="22" * 32,
                            content_type="image/jpeg", size_bytes=1, width=1, height=1, actor=by_parent)
        review.submit_confirmation(s, confirmation, sheet, actor=by_parent)
        review.approve_confirmation(s, confirmation, actor=Actor("staff", teacher.id))
        keydata.reject_key_correction(s, confirmation.corrections[0], "户口簿照片看不清民族一栏",
                                      actor=Actor("staff", admin.id))
        s.commit()
    problems: list[str] = []
    proof_path = tmp_path / "hukou.jpg"  # a phone camera's size: the page shrinks it before sending
    sheet_image((4000, 3000), background=(200, 190, 170)).save(proof_path, "JPEG", quality=95)

    with serve(app) as base:
        parent_ctx = browser.new_context(**PHONE_CONTEXT)
        try:
            page = parent_ctx.new_page()
            watch_page(page, problems)
            sign_in(page, base, parent.phone)
            expect(page).to_have_url(re.compile(rf"/parent/students/{student.id}$"))
            expect(page.locator(".status")).to_contain_text("关键信息被退回")
            returned = page.locator("#returned")
            expect(returned).to_contain_text("户口簿照片看不清民族一栏")
            assert_fits_the_screen(page)
            full_page_screenshot(page, screenshot_dir / "parent-key-data-returned.png")
            expect(returned.locator("form[data-ready] input[name=proof]")).to_have_count(1)  # photo.js is in
            sent: list[int] = []
            page.on("request", lambda r: sent.append(len(r.post_data_buffer or b""))
                    if r.method == "POST" and r.url.endswith("/key-data/resubmit") else None)
            returned.locator("input[name=proof]").set_input_files(str(proof_path))
            returned.get_by_role("button", name="上传并重新提交审核").click()
            expect(page.locator(".flash-success")).to_contain_text("新的证明材料已提交")
            assert len(sent) == 1 and sent[0] < proof_path.stat().st_size / 2, (sent, proof_path.stat().st_size)
            expect(page.locator("#returned")).to_have_count(0)
        finally:
            parent_ctx.close()

        admin_ctx = browser.new_context(**DESKTOP_CONTEXT)
        try:
            page = admin_ctx.new_page()
            watch_page(page, problems)
            sign_in(page, base, admin.username)
            page.goto(f"{base}/admin/key-data")
            item = page.locator("article.keydata-item").filter(has_text=student.name)
            expect(item).to_contain_text("上次不通过的原因：户口簿照片看不清民族一栏")
            expect(item.locator("img.proof-thumb")).to_have_count(2)
            item.get_by_role("button", name="通过，更新学籍").click()
            expect(page.locator(".flash-success")).to_contain_text(student.name)
        finally:
            admin_ctx.close()

        parent_ctx = browser.new_context(**PHONE_CONTEXT)
        try:
            page = parent_ctx.new_page()
            watch_page(page, problems)
            sign_in(page, base, parent.phone)
            expect(page.locator(".status")).to_contain_text("已通过")
            expect(page.locator("#row-c0-ethnicity .outcome")).to_have_text("已生效")
        finally:
            parent_ctx.close()
    app.extensions["db_engine"].dispose()
    assert problems == []
