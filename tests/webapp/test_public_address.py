"""Slips, SMS and invitations carry the address the app is served on (issue 15, item 6): PUBLIC_BASE_URL when it is
set (production refuses to start without it), otherwise in development the address each request came to."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from confirm.models import Notification
from tests.factories import PASSWORD
from webapp import create_app
from webapp.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SERVED = "http://127.0.0.1:5111"


@pytest.fixture
def teacher(client, world):
    response = client.post("/login", data={"login": world.teacher.username, "password": PASSWORD}, base_url=SERVED)
    assert response.status_code == 302
    return client


def test_slips_printed_on_port_5111_carry_that_address(app, teacher, world):
    page = teacher.post(f"/teacher/classes/{world.class_a.id}/codes", base_url=SERVED).get_data(as_text=True)
    assert f"{SERVED}/register" in page and "127.0.0.1:5000" not in page


def bodies(db) -> list[str]:
    """The texts of the messages written (sent now, or held until the morning: rendered either way)."""
    db.commit()
    return list(db.scalars(select(Notification.body).where(Notification.kind == "reminder")))


def test_reminders_sent_from_port_5111_link_to_that_address(app, teacher, world, db):
    teacher.post(f"/teacher/classes/{world.class_a.id}/reminders", data={"stage": "open"}, base_url=SERVED)
    texts = bodies(db)
    assert texts and all(f"{SERVED}/login" in text for text in texts)


def test_a_configured_public_address_wins_over_the_address_served_on(app, teacher, world, db):
    app.config["PUBLIC_BASE_URL"] = "https://xueji.example.cn"
    page = teacher.post(f"/teacher/classes/{world.class_a.id}/codes", base_url=SERVED).get_data(as_text=True)
    teacher.post(f"/teacher/classes/{world.class_a.id}/reminders", data={"stage": "open"}, base_url=SERVED)
    assert "https://xueji.example.cn/register" in page and SERVED not in page
    texts = bodies(db)
    assert texts and all("https://xueji.example.cn/login" in text for text in texts)


def test_production_without_a_public_address_fails_fast_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SMS_BACKEND", "twilio")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL is not set"):
        create_app()


def test_make_run_on_another_port_prints_and_uses_that_address():
    planned = subprocess.run(["make", "-n", "run", "PORT=5111"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=30, env={"PATH": "/usr/bin:/bin"}).stdout
    assert f"→ open {SERVED}/" in planned
    assert re.search(rf"PUBLIC_BASE_URL={re.escape(SERVED)} \S*flask --app webapp run --host 127.0.0.1 --port 5111",
                     planned)
    assert re.search(rf"PUBLIC_BASE_URL={re.escape(SERVED)} \S*flask --app webapp demo", planned)
