"""Where the head teacher's pages' time goes, in one process: the class page (45 students) and the review page of
one submitted student (corrections with a key-data one, a proof, the sheet photo, a linked parent), on PostgreSQL
(the app as gunicorn builds it, not in testing mode), the teacher signed in through the login form, each page asked
N times through the test client.

Seeds as ``benchmarks/load_pages.py`` does (one class of 45 students, the head teacher ``bench_teacher``), then hands
in a second student's record so that the review page shows what a teacher decides on. Prints, per page, the time
per request without a profiler, the SQL statements and pool checkouts per request, /healthz (the baseline, measured
in the same run), and the cProfile functions with the most time (own and cumulative). Uses a private schema of
postgresql+psycopg://postgres@127.0.0.1:5432/test_perf (or BENCH_DATABASE_URL), dropped at the end.

    .venv/bin/python benchmarks/profile_class.py                 # 200 requests per page, both profiled
    PROFILE_PAGE=review PROFILE_REQUESTS=500 PROFILE_TOP=40 .venv/bin/python benchmarks/profile_class.py
    PROFILE_TOP=0 .venv/bin/python benchmarks/profile_class.py   # figures only, no profile
    PROFILE_SQL=1 PROFILE_TOP=0 .venv/bin/python benchmarks/profile_class.py   # and each page's statements
"""

from __future__ import annotations

import cProfile
import logging
import os
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import bench_app, migrate, print_profile, private_schema, profiled  # noqa: E402
from benchmarks.profile_record import _per_request, _sign_in  # noqa: E402

BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_perf")
REQUESTS = int(os.environ.get("PROFILE_REQUESTS", "200"))
TOP = int(os.environ.get("PROFILE_TOP", "30"))
PAGES = os.environ.get("PROFILE_PAGE", "class,review").split(",")


def _submitted_student(url: str, seeded: dict) -> int:
    """Hand in the record of the class's second student: an ordinary and a key-data correction, a proof document,
    the sheet photo, a linked parent. Returns the student's id (rows only: the page never reads the objects)."""
    from confirm.models import Campaign, Student
    from confirm.services import records, review
    from confirm.services.common import Actor
    from confirm.services.files import record_file
    from tests.factories import make_parent
    from webapp.adapters.db import make_engine

    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        student = s.scalars(select(Student).where(Student.class_id == seeded["class_id"],
                                                  Student.id != seeded["student_id"]).order_by(Student.id)).first()
        campaign = s.scalars(select(Campaign).where(Campaign.school_id == student.school_id)).one()
        parent = make_parent(s, student)
        by_parent = Actor("parent", parent.id)
        confirmation = records.ensure_confirmation(s, campaign, student)
        records.save_corrections(s, confirmation, {(0, "current_address"): "贵阳市新地址9号",
                                                   (0, "ethnicity"): "02"}, actor=by_parent)

        def stored(kind: str, confirmation_id: int | None = None):
            row = record_file(s, student, kind=kind, storage_key=f"{kind}/{uuid.uuid4().hex}.jpg",
                              sha256=uuid.uuid4().hex * 2, content_type="image/jpeg", size_bytes=1000, width=800,
                              height=600, actor=by_parent)
            row.confirmation_id = confirmation_id
            return row

        stored("proof", confirmation.id)
        sheet = stored("sheet")
        s.flush()
        s.refresh(confirmation)
        review.submit_confirmation(s, confirmation, sheet, actor=by_parent)
        s.commit()
        student_id = student.id
    engine.dispose()
    return student_id


def _print_statements(client, path: str, engine, name: str) -> None:
    """The SQL statements of one GET of ``path``, first line of each (PROFILE_SQL=1)."""
    seen: list[str] = []

    def statement(_conn, _cursor, sql, *_args):
        seen.append(" ".join(sql.split())[:160])

    event.listen(engine, "before_cursor_execute", statement)
    client.get(path)
    event.remove(engine, "before_cursor_execute", statement)
    print(f"-- {len(seen)} statements of one {name} page")
    for sql in seen:
        print("   ", sql)


def main() -> int:
    from benchmarks.load_pages import _seed

    logging.disable(logging.WARNING)
    profiles: dict[str, cProfile.Profile] = {}
    with private_schema(BASE, "prof") as url, tempfile.TemporaryDirectory() as tmp:
        migrate(url, ROOT)
        seeded = _seed(url)
        submitted_id = _submitted_student(url, seeded)
        app = bench_app(url, tmp)
        engine = app.extensions["db_engine"]
        client = app.test_client()
        _sign_in(client, seeded["teacher"], seeded["password"])
        paths = {"class": f"/teacher/classes/{seeded['class_id']}",
                 "review": f"/teacher/students/{submitted_id}"}
        paths = {name: path for name, path in paths.items() if name in PAGES}
        for path in paths.values():
            _per_request(client, path, engine, 20)  # warm-up: templates compiled, pool filled
        if os.environ.get("PROFILE_SQL"):
            for name, path in paths.items():
                _print_statements(client, path, engine, name)
        health_ms, health_cpu, _ = _per_request(client, "/healthz", engine, REQUESTS)
        print(f"/healthz     {health_ms:6.2f} ms/request, CPU {health_cpu:6.2f} ms")
        for name, path in paths.items():
            ms, cpu, counts = _per_request(client, path, engine, REQUESTS)
            print(f"{name + ' page':12s} {ms:6.2f} ms/request, CPU {cpu:6.2f} ms  "
                  f"(/healthz ÷ this: {health_cpu / cpu:5.3f})")
            print(f"per {name} page: " + ", ".join(f"{v:g} {k}" for k, v in sorted(counts.items())))
        if TOP:
            for name, path in paths.items():
                dump = os.environ.get("PROFILE_DUMP")
                profiles[name] = profiled(lambda path=path: _per_request(client, path, engine, REQUESTS),
                                          f"{dump}.{name}" if dump else None)
        engine.dispose()
    for name, profiler in profiles.items():
        print_profile(profiler, REQUESTS, TOP, f"{name} page ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
