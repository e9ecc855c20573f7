"""School page (admin home) on PostgreSQL: 5,000 students in 100 classes, 200 GETs through the test client.

Creates a private schema at postgresql+psycopg://postgres@127.0.0.1:5432/test_perf (or BENCH_DATABASE_URL),
migrates it, bulk-inserts the school (every stage represented), logs in once and times 200 requests of /admin/, of
a name search and of a later page of the students; the baseline in the same run is /healthz. Prints each page's
size (plain and gzip), the SQL statements it issues, p50/p95 in ms and CPU ms per request, and drops the schema.
BENCH_APP_ROOT=<another checkout> measures that checkout's code instead (e.g. a worktree of main, for "before").

    .venv/bin/python benchmarks/school_page_pg.py

Targets (issue 14): ≤ 60 KB and p95 ≤ 100 ms at 5,000 students.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# this checkout's, also when measuring another
from benchmarks._measure import private_schema, timed_gets  # noqa: E402

if os.environ.get("BENCH_APP_ROOT"):
    sys.path.insert(0, os.environ["BENCH_APP_ROOT"])

from benchmarks.stats_queries import PASSWORD, StatementCounter, populate  # noqa: E402

BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_perf")
REQUESTS = 200


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[94]


def populate_school(engine) -> dict:
    """The school of the benchmark: 5,000 students in 100 classes, every stage represented, statistics analysed."""
    with Session(engine) as s:
        built = populate(s, classes=100, per_class=50)
        s.commit()
        s.execute(text("ANALYZE"))
        s.commit()
    return built


def main() -> int:
    import logging

    from webapp import create_app
    from webapp.cli.database import alembic_config

    logging.disable(logging.WARNING)
    with private_schema(BASE) as url, tempfile.TemporaryDirectory() as tmp:
        command.upgrade(alembic_config(url), "head")
        app = create_app({"TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url,
                          "STORAGE_URL": f"file://{tmp}", "SMS_BACKEND": "memory", "WTF_CSRF_ENABLED": False})
        start = time.perf_counter()
        built = populate_school(app.extensions["db_engine"])
        print(f"built 5,000 students / 100 classes in {time.perf_counter() - start:.1f} s")
        client = app.test_client()
        assert client.post("/login", data={"login": built["admin"], "password": PASSWORD}).status_code == 302
        import webapp

        print(f"code of {Path(webapp.__file__).parent.parent}")
        pages = {"/admin/ (school page)": "/admin/", "name search": "/admin/?q=" + quote("学生1"),
                 "page 60 of students": "/admin/?page=60", "/healthz (baseline)": "/healthz"}
        health_cpu = None
        for name, path in reversed(pages.items()):
            with StatementCounter(app.extensions["db_engine"]) as counter:
                first = client.get(path)
            assert first.status_code == 200, (path, first.status_code)
            packed = client.get(path, headers={"Accept-Encoding": "gzip"})
            gzip_size = len(packed.get_data()) if packed.headers.get("Content-Encoding") == "gzip" else None
            timed_gets(client, path, 10)  # warm-up
            samples, cpu = timed_gets(client, path, REQUESTS)
            health_cpu = health_cpu or cpu
            p50, p95 = _percentiles(samples)
            gz = f"{gzip_size / 1024:5.1f} KB gzip" if gzip_size else "  (no gzip)  "
            print(f"{name:24s} {len(first.get_data()) / 1024:6.1f} KB, {gz}, {counter.count:2d} statements, "
                  f"{REQUESTS} requests: p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   CPU {cpu:5.1f} ms "
                  f"({cpu / health_cpu:4.1f} × /healthz)")
        app.extensions["db_engine"].dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
