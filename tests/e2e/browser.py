"""Steps the browser tests share: the phone and desk browsers, signing in, a parent signed in on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, make_campaign, make_class, make_parent, make_school, make_staff, make_student
from tests.servers import serve

ANDROID_WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2219A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 "
    "MMWEBID/2305 MicroMessenger/8.0.47.2560(0x28002F3B) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
PHONE_CONTEXT = dict(
    viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True,
    user_agent=ANDROID_WECHAT_UA, locale="zh-CN", timezone_id="Asia/Shanghai",
)
DESKTOP_CONTEXT = dict(viewport={"width": 1280, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai")


def sign_in(page, base: str, login: str, password: str = PASSWORD) -> None:
    """Sign in on ``base``'s login page as ``login`` and wait for the page the app lands on."""
    page.goto(f"{base}/login")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


@dataclass(frozen=True)
class ParentOnPhone:
    page: object  # playwright's Page
    base: str
    student_ids: tuple[int, ...]


@contextmanager
def parent_on_phone(browser, app: Flask, *, children: int = 1) -> Iterator[ParentOnPhone]:
    """A school with a running campaign, a parent of ``children`` students of one class, ``app`` served and the
    parent signed in on a phone; the browser context is closed at the end."""
    with Session(app.extensions["db_engine"], expire_on_commit=False) as s:
        school = make_school(s)
        make_campaign(s, school)
        school_class = make_class(s, school, make_staff(s, school))
        students = [make_student(s, school_class) for _ in range(children)]
        parent = make_parent(s, *students)
        s.commit()
        ids, phone = tuple(student.id for student in students), parent.phone
    with serve(app) as base:
        context = browser.new_context(**PHONE_CONTEXT)
        try:
            page = context.new_page()
            sign_in(page, base, phone)
            yield ParentOnPhone(page, base, ids)
        finally:
            context.close()
