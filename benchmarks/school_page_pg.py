"""School page (admin home) on PostgreSQL: 5,000 students in 100 classes, 200 GETs through the test client.

Creates a private schema at postgresql+psycopg://postgres@127.0.0.1:5432/test (or BENCH_DATABASE_URL), migrates
it, bulk-inserts the school (every stage represented), logs in once and times 200 requests of /admin/; the
baseline in the same run is /healthz. Prints p50/p95 in ms for both, and drops the schema.

    .venv/bin/python benchmarks/school_page_pg.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stats_queries import PASSWORD, StatementCounter, populate  # noqa: E402

BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUESTS = 200


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[94]


def _time(client, path: str, n: int = REQUESTS) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return out


def main() -> int:
    import logging

    from webapp import create_app
    from webapp.cli.database import alembic_config

    logging.disable(logging.WARNING)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{BASE}{'&' if '?' in BASE else '?'}options=-csearch_path%3D{schema}"
    try:
        command.upgrade(alembic_config(url), "head")
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app({"TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url,
                              "STORAGE_URL": f"file://{tmp}", "SMS_BACKEND": "memory", "WTF_CSRF_ENABLED": False})
            start = time.perf_counter()
            with Session(app.extensions["db_engine"]) as s:
                built = populate(s, classes=100, per_class=50)
                s.commit()
                s.execute(text("ANALYZE"))
                s.commit()
            print(f"built 5,000 students / 100 classes in {time.perf_counter() - start:.1f} s")
            client = app.test_client()
            assert client.post("/login", data={"login": built["admin"], "password": PASSWORD}).status_code == 302
            with StatementCounter(app.extensions["db_engine"]) as counter:
                assert client.get("/admin/").status_code == 200
            print(f"statements per school page: {counter.count}")
            _time(client, "/admin/", 10)  # warm-up
            page = _time(client, "/admin/")
            health = _time(client, "/healthz")
            for name, samples in (("/admin/ (school page)", page), ("/healthz (baseline)", health)):
                p50, p95 = _percentiles(samples)
                print(f"{name:24s} {REQUESTS} requests: p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
            app.extensions["db_engine"].dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
