"""In a real browser: "更正" opens the field's editor in place, and typed corrections are not lost silently."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import FieldCorrection
from tests.conftest import test_app_config
from tests.e2e.browser import PHONE_CONTEXT, parent_on_phone
from webapp import create_app

pytestmark = pytest.mark.browser

NEW_ADDRESS = "贵阳市云岩区新地址9号"


@pytest.fixture
def parent_page(browser, db_url, tmp_path):
    """A parent signed in on a phone, on the record page of one of two children; yields (page, app, ids)."""
    app = create_app(test_app_config(db_url, tmp_path, WTF_CSRF_ENABLED=True))
    with parent_on_phone(browser, app, children=2) as parent:
        parent.page.goto(f"{parent.base}/parent/students/{parent.student_ids[0]}")
        yield parent.page, app, parent.student_ids


def test_the_editor_opens_in_place_and_saves(parent_page):
    from playwright.sync_api import expect

    page, app, (student_id, _other) = parent_page
    record_url = page.url
    row = page.locator("#row-c0-ethnicity")
    expect(row.locator("select")).to_have_count(0)
    row.locator("a.edit").click()
    expect(row.locator("select[name='c0-ethnicity']")).to_be_visible()
    assert page.url == record_url  # no new page: the editor came into the row
    expect(row.locator("a.edit")).to_be_hidden()
    row.locator("select[name='c0-ethnicity']").select_option("06")
    page.get_by_role("button", name="保存更正").click()
    expect(page.locator(".flash-success")).to_contain_text("已保存 1 项更正")
    expect(page.locator("#row-c0-ethnicity .new-value")).to_contain_text("→")
    with Session(app.extensions["db_engine"]) as s:
        assert s.scalars(select(FieldCorrection.new_value)).all() == ["06"]


def test_leaving_with_a_typed_correction_asks_first_and_stays_on_no(parent_page):
    from playwright.sync_api import expect

    page, _app, (first, second) = parent_page
    row = page.locator("#row-c0-current_address")
    row.locator("a.edit").click()
    row.locator("input[name='c0-current_address']").fill(NEW_ADDRESS)
    questions: list[str] = []

    def refuse(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", refuse)
    page.get_by_role("navigation", name="切换孩子").get_by_role("link").nth(1).click()  # the other child
    page.wait_for_timeout(300)
    assert questions and "还没有保存" in questions[0]
    assert page.url.endswith(f"/parent/students/{first}")
    expect(row.locator("input[name='c0-current_address']")).to_have_value(NEW_ADDRESS)  # still there

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("navigation", name="切换孩子").get_by_role("link").nth(1).click()
    expect(page).to_have_url(re.compile(rf"/parent/students/{second}$"))


def test_without_javascript_the_editor_is_a_page_of_its_own(browser, parent_page):
    from playwright.sync_api import expect

    page, app, (student_id, _other) = parent_page
    context = browser.new_context(**PHONE_CONTEXT, java_script_enabled=False,
                                  storage_state=page.context.storage_state())
    try:
        plain = context.new_page()
        plain.goto(page.url)
        plain.locator("#row-c0-current_address a.edit").click()
        expect(plain).to_have_url(re.compile(rf"/parent/students/{student_id}/fields/c0-current_address$"))
        plain.locator("input[name='c0-current_address']").fill(NEW_ADDRESS)
        plain.get_by_role("button", name="保存更正").click()
        expect(plain).to_have_url(re.compile(rf"/parent/students/{student_id}#row-c0-current_address$"))
        expect(plain.locator("#row-c0-current_address .new-value")).to_have_text(f"→ {NEW_ADDRESS}")
    finally:
        context.close()
