"""In a real browser: when the photo service is down, the sheet upload says so in place — the server's own
message, the chosen photo still in the form — and the retry sends it once the service is back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.models import StoredFile
from tests.conftest import test_app_config
from tests.e2e.browser import parent_on_phone
from tests.e2e.test_browser_journey import sheet_photo
from uploads.storage import StorageUnavailable
from webapp import create_app

pytestmark = pytest.mark.browser


class Switchable:
    """The real store, whose writes fail while ``down`` (as S3 paused)."""

    def __init__(self, backend):
        self.backend, self.down = backend, True

    def put(self, key, data, content_type):
        if self.down:
            raise StorageUnavailable("S3 put_object: ReadTimeoutError", operation="put_object")
        self.backend.put(key, data, content_type)

    def __getattr__(self, name):
        return getattr(self.backend, name)


def test_a_refused_upload_keeps_the_photo_and_shows_the_servers_message_in_place(browser, db_url, tmp_path):
    from playwright.sync_api import expect

    app = create_app(test_app_config(db_url, tmp_path, WTF_CSRF_ENABLED=True, BREAKER_COOL_OFF=0))
    store = Switchable(app.extensions["store"].backend)
    app.extensions["store"].backend = store
    photo = sheet_photo(tmp_path / "IMG_0001.jpg")

    with parent_on_phone(browser, app) as parent:
        page, (student_id,) = parent.page, parent.student_ids
        page.goto(f"{parent.base}/parent/students/{student_id}/submit")
        page.locator("input[name=sheet]").set_input_files(str(photo))
        page.locator("input[name=confirmed]").check()
        page.get_by_role("button", name="提交").click()

        message = page.locator("[data-progress-text]")
        expect(message).to_contain_text("照片服务暂时不可用，您的照片没有保存")
        expect(message).to_contain_text("错误编号")
        expect(page).to_have_url(re.compile(rf"/parent/students/{student_id}/submit$"))
        assert page.locator("input[name=sheet]").evaluate("input => input.files.length") == 1
        retry = page.get_by_role("button", name="重试")
        expect(retry).to_be_visible()

        store.down = False
        retry.click()
        expect(page).to_have_url(re.compile(rf"/parent/students/{student_id}$"))
        expect(page.locator(".flash-success")).to_contain_text("提交成功")
    with Session(app.extensions["db_engine"]) as s:
        assert s.scalar(select(func.count()).select_from(StoredFile)) == 1
    app.extensions["db_engine"].dispose()


def test_a_second_refused_try_replaces_the_list_of_problems_at_the_top(browser, db_url, tmp_path):
    """Submitted empty without JavaScript's help (the server's page lists both problems), then with the box ticked
    and a file that is not a photo: the list at the top names only what is still wrong."""
    from playwright.sync_api import expect

    app = create_app(test_app_config(db_url, tmp_path, WTF_CSRF_ENABLED=True))
    not_a_photo = tmp_path / "notes.txt"
    not_a_photo.write_text("这不是照片")

    with parent_on_phone(browser, app) as parent:
        page, (student_id,) = parent.page, parent.student_ids
        page.goto(f"{parent.base}/parent/students/{student_id}/submit")
        page.locator("form:has(input[name=sheet])").evaluate("form => form.submit()")  # as without JavaScript
        problems = page.locator("#problems")
        expect(problems).to_contain_text("请确认您已核对信息并签字")

        page.locator("input[name=sheet]").set_input_files(str(not_a_photo))
        page.locator("input[name=confirmed]").check()
        page.get_by_role("button", name="提交").click()
        expect(page.locator(".field.has-error")).to_have_count(1)
        expect(problems).not_to_contain_text("请确认您已核对信息并签字")
        expect(problems).to_have_count(1)
    app.extensions["db_engine"].dispose()
