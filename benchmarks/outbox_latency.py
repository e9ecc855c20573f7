"""What the outbox costs the person who presses the button: answers over real HTTP (werkzeug, SQLite), the Twilio
client against a local fake API, beside ``/healthz`` measured in the same run.

    .venv/bin/python benchmarks/outbox_latency.py

* a reminder to a 45-phone class while Twilio answers 429 to every message: the teacher's answer time, without
  Redis and with Redis down (a closed port), and what became of the 45 messages;
* forgot-password with Twilio taking 300 ms per message: median answer for registered vs unknown phones (ratio).
"""

from __future__ import annotations

import logging
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from alembic import command
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confirm.models import Notification  # noqa: E402
from tests.conftest import test_app_config  # noqa: E402
from tests.factories import (  # noqa: E402
    PASSWORD,
    make_campaign,
    make_class,
    make_parent,
    make_school,
    make_staff,
    make_student,  # noqa: E402
)
from tests.fakes import message_error, start_fake_twilio  # noqa: E402
from tests.servers import serve  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.cli.database import alembic_config  # noqa: E402


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_app(tmp: Path, name: str, fake, **overrides):
    url = f"sqlite:///{tmp / name}.sqlite3"
    command.upgrade(alembic_config(url), "head")
    return create_app(test_app_config(url, tmp / name, SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                                      TWILIO_AUTH_TOKEN="t", TWILIO_FROM="+15005550006", TWILIO_API_URL=fake.url,
                                      **overrides))


def wait_settled(app, expected: int) -> list[Notification]:
    with app.extensions["db_sessionmaker"]() as s:
        for _ in range(600):
            rows = list(s.scalars(select(Notification)))
            rows = [n for n in rows if n.status != "skipped"]  # codes asked for phones without an account
            if len(rows) >= expected and all(n.attempts and n.status != "sending" for n in rows):
                return rows
            time.sleep(0.05)
            s.expire_all()
    raise SystemExit("messages did not settle")


def healthz_ms(url: str, n: int = 50) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        requests.get(f"{url}/healthz")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def reminder(tmp: Path, fake, label: str, **overrides) -> None:
    import webapp.teacher.outreach as outreach_views
    from confirm.clock import LOCAL_TZ

    noon = datetime.now(LOCAL_TZ).replace(hour=12, minute=0, second=0, microsecond=0)  # outside quiet hours

    if noon > datetime.now(LOCAL_TZ):  # the last noon, never a future one: rows are dated by it

        noon -= timedelta(days=1)
    outreach_views.clock = lambda: noon.astimezone(UTC)
    app = fresh_app(tmp, label, fake, **overrides)
    with app.extensions["db_sessionmaker"]() as s:
        school = make_school(s)
        make_campaign(s, school)
        teacher = make_staff(s, school)
        school_class = make_class(s, school, teacher)
        for n in range(45):
            make_student(s, school_class, phone=f"139{n:08d}").members[0].set_value("phone", "")
        s.commit()
        class_id, username = school_class.id, teacher.username
    with serve(app) as url, requests.Session() as browser:
        browser.post(f"{url}/login", data={"login": username, "password": PASSWORD})
        health = healthz_ms(url)
        started = time.perf_counter()
        browser.post(f"{url}/teacher/classes/{class_id}/reminders", data={"stage": "unregistered"},
                     allow_redirects=False)
        answer = (time.perf_counter() - started) * 1000
        rows = wait_settled(app, 45)
    statuses = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    print(f"reminder to 45 phones, Twilio 429 on each, {label}: answer {answer:.0f} ms "
          f"(/healthz median {health:.1f} ms, ratio {answer / health:.1f}); messages {statuses}, "
          f"all with a reason: {all(r.reason for r in rows)}")


def forgot_password(tmp: Path, fake) -> None:
    fake.always, fake.delay = None, 0.3
    app = fresh_app(tmp, "forgot", fake)
    known = [f"1361234{n:04d}" for n in range(15)]
    unknown = [f"1371234{n:04d}" for n in range(15)]
    with app.extensions["db_sessionmaker"]() as s:
        school_class = make_class(s, make_school(s))
        for phone in known:
            make_parent(s, make_student(s, school_class), phone=phone)
        s.commit()
    timings = {"registered": [], "unknown": []}
    with serve(app) as url:
        requests.post(f"{url}/login/forgot", data={"phone": "13512340000"})
        for n, pair in enumerate(zip(known, unknown, strict=True)):
            for label, phone in zip(("registered", "unknown"), pair, strict=True):
                started = time.perf_counter()
                requests.post(f"{url}/login/forgot", data={"phone": phone}, allow_redirects=False)
                timings[label].append((time.perf_counter() - started) * 1000)
                wait_settled(app, n + 1)
    a, b = statistics.median(timings["registered"]), statistics.median(timings["unknown"])
    print(f"forgot-password, Twilio 300 ms: registered median {a:.1f} ms, unknown median {b:.1f} ms, "
          f"ratio {a / b:.2f} (target 0.8–1.25)")


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("webapp").setLevel(logging.ERROR)
    fake, server = start_fake_twilio()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fake.always = (429, message_error(429, 20429, "Too Many Requests"))
            reminder(Path(tmp), fake, "no Redis")
            reminder(Path(tmp), fake, "Redis down", REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
            forgot_password(Path(tmp), fake)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
