"""Does the time an answer takes tell whether an account or a phone exists? Median answer time for a known vs an
unknown account or phone, over real HTTP (werkzeug, SQLite), Twilio taking 300 ms per message (a local fake of its
API), each probe from an address of its own (X-Forwarded-For behind one proxy), the two kinds interleaved:

    .venv/bin/python benchmarks/enumeration_timing.py [pairs]

* sign-in after 6 failures (the 7th try of a login name): a parent's phone vs a phone without an account; and, for
  comparison, the first wrong password (a password hash verified either way);
* forgot-password: a phone with an account (a code is sent) vs one without (recorded, not sent);
* registration step 1 → 2 (valid code and name): a phone that already has an account vs a new one;
* invitation link: a family member's phone on the record (a code is sent) vs one that is not.

Each figure is the ratio known/unknown of the medians measured in the same run (target 0.8–1.25); the unknown one is
the baseline. Two figures: the response time at the client (what a prober sees; on a shared machine SQLite's commits
make it noisy) and the CPU time of the server's thread building the answer (the work done, steady). SMS go out after
the answer, so the provider's 300 ms must not show.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from alembic import command
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confirm.invitations import Invitation, make_invitation_token  # noqa: E402
from confirm.models import Notification  # noqa: E402
from confirm.services.common import SYSTEM  # noqa: E402
from confirm.services.registration import issue_code  # noqa: E402
from tests.conftest import test_app_config  # noqa: E402
from tests.factories import make_campaign, make_class, make_parent, make_school, make_student  # noqa: E402
from tests.fakes import start_fake_twilio  # noqa: E402
from tests.servers import serve  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.cli.database import alembic_config  # noqa: E402

_addresses = (f"10.{n // 250 % 250}.{n % 250}.{n // 62500 + 1}" for n in itertools.count(1))


def browser() -> requests.Session:
    """A new browser at a new address."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = next(_addresses)
    return session


_probe_ids = itertools.count(1)
_server_cpu: dict[str, float] = {}  # the server thread's CPU time per timed request, in ms


def cpu_recorder(wsgi_app):
    """Record the CPU time the server's thread spends building the answer of each timed request (``X-Probe``)."""

    def recorded(environ, start_response):
        probe = environ.get("HTTP_X_PROBE")
        started = time.thread_time()
        try:
            return wsgi_app(environ, start_response)
        finally:
            if probe:
                _server_cpu[probe] = (time.thread_time() - started) * 1000

    return recorded


def timed(call: Callable[[dict], requests.Response]) -> tuple[tuple[float, float], requests.Response]:
    """(wall ms at the client, CPU ms at the server) of one request, and its response."""
    probe = str(next(_probe_ids))
    started = time.perf_counter()
    response = call({"X-Probe": probe})
    return ((time.perf_counter() - started) * 1000, _server_cpu.pop(probe, float("nan"))), response


def settle(app) -> None:
    """Wait until every message queued so far has been handed to the provider (one probe at a time, as an attacker
    would time them; the rows are committed before the answer, so none is missed)."""
    with app.extensions["db_sessionmaker"]() as s:
        for _ in range(400):
            rows = [n for n in s.scalars(select(Notification)) if n.status != "skipped"]
            if all(n.attempts and n.status != "sending" for n in rows):
                return
            time.sleep(0.02)
            s.expire_all()
    raise SystemExit("messages did not settle")


def report(label: str, timings: dict[str, list[tuple[float, float]]], statuses: set) -> None:
    wall = {kind: statistics.median(t[0] for t in timings[kind]) for kind in timings}
    cpu = {kind: statistics.median(t[1] for t in timings[kind]) for kind in timings}
    same = "identical" if len(statuses) == 1 else f"DIFFERENT {sorted(statuses)}"
    print(f"{label}: response time known {wall['known']:.1f} ms / unknown {wall['unknown']:.1f} ms = ratio "
          f"{wall['known'] / wall['unknown']:.2f}; server CPU known {cpu['known']:.1f} ms / unknown "
          f"{cpu['unknown']:.1f} ms = ratio {cpu['known'] / cpu['unknown']:.2f} (target 0.8–1.25); "
          f"status and redirect {same}")


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("webapp").setLevel(logging.ERROR)
    fake, server = start_fake_twilio()
    fake.always, fake.delay = None, 0.3
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'enumeration'}.sqlite3"
            command.upgrade(alembic_config(url), "head")
            app = create_app(test_app_config(
                url, Path(tmp), SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="t",
                TWILIO_FROM="+15005550006", TWILIO_API_URL=fake.url, PROXY_COUNT=1))
            app.wsgi_app = cpu_recorder(app.wsgi_app)
            run(app, pairs)
    finally:
        server.shutdown()


def run(app, pairs: int) -> None:
    with app.extensions["db_sessionmaker"]() as s:
        school = make_school(s)
        campaign = make_campaign(s, school)
        school_class = make_class(s, school)
        # the parents' hashes at the production cost: a wrong password costs what the dummy hash of no account does
        parents = [make_parent(s, make_student(s, school_class), phone=f"1361234{n:04d}", real_hash=True)
                   for n in range(3 * pairs)]
        to_register = [make_student(s, school_class) for _ in range(2 * pairs)]
        codes = [issue_code(s, student, key=app.extensions["code_key"], actor=SYSTEM) for student in to_register]
        invited = [make_student(s, school_class) for _ in range(2 * pairs)]
        for n, student in enumerate(invited):
            student.members[0].set_value("phone", f"1391234{n:04d}")
        s.commit()
        parent_phones = [p.phone for p in parents]
        registering = [(student.name, code) for student, code in zip(to_register, codes, strict=True)]
        tokens = [make_invitation_token(app.extensions["invite_key"], Invitation(student.id, campaign.id))
                  for student in invited]
    known_phones, strangers = iter(parent_phones), (f"1371234{n:04d}" for n in itertools.count())
    with serve(app) as base:
        requests.get(f"{base}/login")  # warm up

        def probe_pairs(label: str, known: Callable, unknown: Callable, *, sends: bool = False) -> None:
            timings: dict[str, list[tuple[float, float]]] = {"known": [], "unknown": []}
            statuses = set()
            for n in range(pairs):
                order = [("known", known), ("unknown", unknown)]
                for kind, probe in order if n % 2 else order[::-1]:  # either may go first: no order effect
                    took, response = probe(n)
                    timings[kind].append(took)
                    statuses.add((response.status_code, response.headers.get("Location")))
                    if sends:
                        settle(app)
            report(label, timings, statuses)

        def first_wrong(phone: str):
            return timed(lambda h: browser().post(f"{base}/login", data={"login": phone, "password": "not-it-1"},
                                                  headers=h))

        def after_six(phone: str):
            client = browser()
            for attempt in range(6):
                client.post(f"{base}/login", data={"login": phone, "password": f"not-it-{attempt}"})
            return timed(lambda h: client.post(f"{base}/login", data={"login": phone, "password": "not-it-7"},
                                               headers=h))

        probe_pairs("sign-in, first wrong password", lambda n: first_wrong(next(known_phones)),
                    lambda n: first_wrong(next(strangers)))
        probe_pairs("sign-in after 6 failures", lambda n: after_six(next(known_phones)),
                    lambda n: after_six(next(strangers)))

        def forgot(phone: str):
            return timed(lambda h: browser().post(f"{base}/login/forgot", data={"phone": phone}, headers=h,
                                                  allow_redirects=False))

        probe_pairs("forgot-password", lambda n: forgot(next(known_phones)), lambda n: forgot(next(strangers)),
                    sends=True)

        def register(n: int, phone: str):
            name, code = registering[n]
            return timed(lambda h: browser().post(f"{base}/register", allow_redirects=False, headers=h,
                                                  data={"code": code, "student_name": name, "phone": phone,
                                                        "consent": "y"}))

        probe_pairs("registration step 2", lambda n: register(2 * n, parent_phones[n]),
                    lambda n: register(2 * n + 1, next(strangers)), sends=True)

        def invite(n: int, on_record: bool):
            phone = f"1391234{n:04d}" if on_record else next(strangers)
            return timed(lambda h: browser().post(f"{base}/register", params={"invite": tokens[n]}, headers=h,
                                                  data={"phone": phone, "consent": "y"}, allow_redirects=False))

        probe_pairs("invitation phone check", lambda n: invite(2 * n, True), lambda n: invite(2 * n + 1, False),
                    sends=True)


if __name__ == "__main__":
    main()
