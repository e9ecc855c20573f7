"""Browser fixtures: the real app served over HTTP on a free local port, and headless Chromium.

The live app differs from the ``app`` fixture in one way that matters: CSRF protection is ON, so the
browser has to go through the real forms with their real tokens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from confirm.services.common import SYSTEM
from confirm.services.registration import issue_code
from tests.conftest import test_app_config
from tests.factories import make_campaign, make_class, make_school, make_staff, make_student
from tests.servers import serve
from webapp import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ACTION_TIMEOUT_MS = 15_000
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LiveServer:
    """The running app and the data arranged in it (plain values, no ORM objects across threads)."""

    url: str
    app: Flask
    teacher_username: str
    class_id: int
    student_id: int
    student_name: str
    student_address: str
    registration_code: str

    @property
    def outbox(self) -> list[tuple[str, str]]:
        """Every SMS the app sent, as (phone, text)."""
        return self.app.extensions["notifier"].outbox


@pytest.fixture
def live_server(db_url, tmp_path):
    """The app with CSRF on, memory SMS and local storage, served by werkzeug in a daemon thread."""
    app = create_app(test_app_config(db_url, tmp_path, WTF_CSRF_ENABLED=True))
    engine = app.extensions["db_engine"]
    with Session(engine, expire_on_commit=False) as s:
        school = make_school(s)
        make_campaign(s, school)
        teacher = make_staff(s, school, username="teacher_e2e")
        school_class = make_class(s, school, teacher, name="1班")
        student = make_student(s, school_class)
        code = issue_code(s, student, key=app.extensions["code_key"], actor=SYSTEM)
        s.commit()
        arranged = dict(teacher_username=teacher.username, class_id=school_class.id, student_id=student.id,
                        student_name=student.name, student_address=student.value("current_address"),
                        registration_code=code)

    try:
        with serve(app) as url:
            yield LiveServer(url=url, app=app, **arranged)
    finally:
        engine.dispose()


@pytest.fixture
def browser():
    """Headless Debian Chromium through Playwright; closed even when the test fails."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                     timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where screenshots go: $SCREENSHOT_DIR (relative paths are taken from the repository root), else tmp."""
    configured = os.environ.get("SCREENSHOT_DIR")
    path = (ROOT / configured) if configured else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
