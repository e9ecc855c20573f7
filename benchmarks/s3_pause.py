"""Fault benchmark: a short upload load against gunicorn (the project's gunicorn.conf.py) while S3 is paused.

SeaweedFS (`weed mini`, started as the tests start it) is frozen with SIGSTOP for PAUSE seconds (30 by default) in
the middle of the run; the baseline is the same load in the seconds before the pause, measured in the same run.
Head teachers upload sheet photos on the parents' behalf from UPLOADERS threads; parents sign in and open their
child's record page from one more thread (pages that never need S3). All on loopback, with bounded time:
BEFORE + PAUSE + AFTER seconds of load. After S3 resumes, `flask sweep-storage` runs once and the bucket is
compared with the rows.

Prints: the slowest upload answer, the answers per status in each phase, the sign-in and record pages' p95 and
slowest answer before and during the pause, and rows/objects/pending records after recovery.

Usage: python benchmarks/s3_pause.py [--pause 30] [--uploaders 3] [--database-url postgresql+psycopg://…]
(default database: a SQLite file in a temporary directory).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from alembic import command  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from confirm.models import PendingObject, StoredFile  # noqa: E402
from tests.factories import PASSWORD, make_campaign, make_class, make_parent, make_school, make_staff, make_student  # noqa: E402
from tests.images import sheet_jpeg  # noqa: E402
from tests.s3server import start_weed  # noqa: E402
from tests.servers import gunicorn  # noqa: E402
from webapp.adapters.db import make_engine  # noqa: E402
from webapp.cli.database import alembic_config  # noqa: E402

BUDGET = 10.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)] if ordered else float("nan")


def build(url: str, students: int, parents: int):
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        school = make_school(s)
        make_campaign(s, school)
        teacher = make_staff(s, school, username="bench_teacher")
        school_class = make_class(s, school, teacher)
        kids = [make_student(s, school_class) for _ in range(students)]
        people = [make_parent(s, kid, phone=f"1397{n:07d}") for n, kid in enumerate(kids[:parents])]
        s.commit()
        return engine, teacher.username, school_class.id, kids, people


def csrf_of(browser: requests.Session, url: str) -> str:
    page = browser.get(url).text
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page).group(1) \
        or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause", type=float, default=30.0)
    parser.add_argument("--before", type=float, default=8.0)
    parser.add_argument("--after", type=float, default=8.0)
    parser.add_argument("--uploaders", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="s3-pause-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    weed = start_weed()
    prefix = f"bench-{secrets.token_hex(4)}/"
    s3 = {"STORAGE_URL": f"s3://{weed.bucket}/{prefix}", "S3_ENDPOINT_URL": weed.endpoint_url,
          "S3_REGION": weed.region, "S3_ACCESS_KEY_ID": weed.access_key, "S3_SECRET_ACCESS_KEY": weed.secret_key}
    engine, teacher, class_id, kids, people = build(url, students=400, parents=120)
    numbers = [kid.upload_no for kid in kids]
    photo = sheet_jpeg((1600, 1200), seed=7)
    uploads: list[tuple[float, float, int]] = []
    pages: list[tuple[float, float, str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()
    paused: dict[str, float] = {}

    try:
        with gunicorn(url, workdir, workers=2, threads=4, PROXY_COUNT="1", **s3) as base:
            def uploader(n: int) -> None:
                browser = requests.Session()
                browser.headers["X-Forwarded-For"] = f"203.0.113.{n + 1}"
                token = csrf_of(browser, f"{base}/login")
                signed_in = browser.post(f"{base}/login", allow_redirects=False,
                                         data={"login": teacher, "password": PASSWORD, "csrf_token": token})
                assert signed_in.status_code == 302
                token = csrf_of(browser, f"{base}/teacher/")
                while not stop.is_set():
                    with lock:
                        if not numbers:
                            return
                        number = numbers.pop(0)
                    started = time.monotonic()
                    answer = browser.post(f"{base}/teacher/classes/{class_id}/upload", allow_redirects=False,
                                          data={"upload_no": number, "csrf_token": token,
                                                "_once": secrets.token_urlsafe(18)},
                                          files={"sheet": ("IMG_1.jpg", photo, "image/jpeg")}, timeout=120)
                    with lock:
                        uploads.append((started, time.monotonic() - started, answer.status_code))
                        if answer.status_code != 302:
                            numbers.append(number)
                    stop.wait(0.2)

            def visitor() -> None:
                n = 0
                while not stop.is_set() and n < len(people):
                    parent, kid = people[n], kids[n]
                    n += 1
                    browser = requests.Session()
                    browser.headers["X-Forwarded-For"] = f"198.51.100.{n % 250 + 1}"
                    token = csrf_of(browser, f"{base}/login")
                    started = time.monotonic()
                    login = browser.post(f"{base}/login", data={"login": parent.phone, "password": PASSWORD,
                                                                "csrf_token": token}, allow_redirects=False)
                    pages.append((started, time.monotonic() - started, "login", login.status_code))
                    started = time.monotonic()
                    record = browser.get(f"{base}/parent/students/{kid.id}", allow_redirects=False)
                    pages.append((started, time.monotonic() - started, "record", record.status_code))
                    stop.wait(0.25)

            threads = [threading.Thread(target=uploader, args=(n,)) for n in range(args.uploaders)]
            threads.append(threading.Thread(target=visitor))
            started_at = time.monotonic()
            for thread in threads:
                thread.start()
            time.sleep(args.before)
            paused["from"] = time.monotonic()
            os.kill(weed.pid, signal.SIGSTOP)
            try:
                time.sleep(args.pause)
            finally:
                os.kill(weed.pid, signal.SIGCONT)
                paused["to"] = time.monotonic()
            time.sleep(args.after)
            stop.set()
            for thread in threads:
                thread.join(120)
            load_seconds = time.monotonic() - started_at
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "REDIS_"))}
            env.update({"DATABASE_URL": url, "SECRET_KEY": "gunicorn-test-secret-0123456789abcdef0123456789",
                        "SMS_BACKEND": "console", **s3})
            sweep = subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "sweep-storage"], cwd=ROOT,
                                   env=env, capture_output=True, text=True, timeout=120)

        def phase(t: float) -> str:
            return "before" if t < paused["from"] else "paused" if t < paused["to"] else "after"

        print(f"load: {load_seconds:.0f} s ({args.uploaders} uploaders, 1 parent visitor); S3 paused "
              f"{paused['to'] - paused['from']:.1f} s; gunicorn 2 workers × 4 threads (gunicorn.conf.py otherwise)")
        slowest = max(uploads, key=lambda u: u[1])
        print(f"slowest upload answer: {slowest[1]:.2f} s (HTTP {slowest[2]}, {phase(slowest[0])}); "
              f"budget {BUDGET:.0f} s; over budget: {sum(1 for u in uploads if u[1] > BUDGET)}")
        for name in ("before", "paused", "after"):
            mine = [u for u in uploads if phase(u[0]) == name]
            counts = dict(sorted(Counter(status for _t, _s, status in mine).items()))
            print(f"  uploads {name:>6}: {len(mine):3d} answers, by status {counts}, "
                  f"p95 {percentile([u[1] for u in mine], 0.95):.2f} s")
        for name in ("before", "paused"):
            for kind in ("login", "record"):
                mine = [p for p in pages if phase(p[0]) == name and p[2] == kind]
                statuses = dict(Counter(p[3] for p in mine))
                times = [p[1] for p in mine]
                print(f"  {kind:>6} pages {name:>6}: {len(mine):3d}, p95 {percentile(times, 0.95):.3f} s, "
                      f"slowest {max(times, default=float('nan')):.3f} s, by status {statuses}")
        summary = " | ".join(line for line in sweep.stdout.splitlines() if not line.startswith("  "))
        print(f"sweep-storage after recovery (exit {sweep.returncode}): {summary}")
        with Session(engine) as s:
            rows = s.scalar(select(func.count()).select_from(StoredFile))
            keys = set(s.scalars(select(StoredFile.storage_key))) | set(
                k for k in s.scalars(select(StoredFile.thumbnail_key)) if k)
            pending = s.scalar(select(func.count()).select_from(PendingObject))
        listed = {item["Key"][len(prefix):] for page in weed.client().get_paginator("list_objects_v2").paginate(
            Bucket=weed.bucket, Prefix=prefix) for item in page.get("Contents", ())}
        accepted = sum(1 for u in uploads if u[2] == 302)
        print(f"consistency: uploads answered 302 = {accepted}, rows = {rows}, objects = {len(listed)} "
              f"(photos + thumbnails = {len(keys)}), orphans = {len(listed - keys)}, missing = {len(keys - listed)}, "
              f"pending records = {pending}")
    finally:
        engine.dispose()
        weed.stop()


if __name__ == "__main__":
    main()
