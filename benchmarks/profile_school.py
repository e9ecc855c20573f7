"""Where the school page's time goes: the admin's /admin/ at 5,000 students in 100 classes on PostgreSQL, in one
process, as benchmarks/school_page_pg.py builds it (test client, testing mode), asked N times under cProfile.

Prints the time and CPU per request without the profiler, the SQL statements per request with their share of the
database time, then the cProfile functions with the most CPU time (own and cumulative). Uses a private schema of
postgresql+psycopg://postgres@127.0.0.1:5432/test_perf (or BENCH_DATABASE_URL), dropped at the end.

    .venv/bin/python benchmarks/profile_school.py                 # 100 requests of /admin/
    PROFILE_PATH='/admin/?page=60' PROFILE_REQUESTS=200 PROFILE_TOP=40 .venv/bin/python benchmarks/profile_school.py
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from alembic import command
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._measure import print_profile, private_schema, profiled  # noqa: E402
from benchmarks.school_page_pg import populate_school  # noqa: E402
from benchmarks.stats_queries import PASSWORD  # noqa: E402

BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_perf")
REQUESTS = int(os.environ.get("PROFILE_REQUESTS", "100"))
TOP = int(os.environ.get("PROFILE_TOP", "30"))
PATH = os.environ.get("PROFILE_PATH", "/admin/")


def _run(client, n: int) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        assert client.get(PATH).status_code == 200
    return (time.perf_counter() - start) * 1000 / n, (time.process_time() - cpu) * 1000 / n


def _statement_times(client, engine, n: int) -> dict[str, list[float]]:
    """Wall ms of each statement (first 90 characters as the key) over ``n`` requests."""
    times: dict[str, list[float]] = defaultdict(list)

    def before(conn, _cursor, _sql, *_args):
        conn.info["bench_start"] = time.perf_counter()

    def after(conn, _cursor, sql, *_args):
        times[" ".join(sql.split())[:90]].append((time.perf_counter() - conn.info.pop("bench_start")) * 1000)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        _run(client, n)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return times


def main() -> int:
    from webapp import create_app
    from webapp.cli.database import alembic_config

    logging.disable(logging.WARNING)
    with private_schema(BASE, "prof") as url, tempfile.TemporaryDirectory() as tmp:
        command.upgrade(alembic_config(url), "head")
        app = create_app({"TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url,
                          "STORAGE_URL": f"file://{tmp}", "SMS_BACKEND": "memory", "WTF_CSRF_ENABLED": False})
        engine = app.extensions["db_engine"]
        built = populate_school(engine)
        client = app.test_client()
        assert client.post("/login", data={"login": built["admin"], "password": PASSWORD}).status_code == 302
        _run(client, 10)  # warm-up: templates compiled, pool filled
        ms, cpu = _run(client, REQUESTS)
        print(f"{PATH}  {ms:6.2f} ms/request, CPU {cpu:6.2f} ms")
        times = _statement_times(client, engine, REQUESTS)
        total = sum(sum(v) for v in times.values()) / REQUESTS
        print(f"{sum(len(v) for v in times.values()) / REQUESTS:g} statements per request, "
              f"{total:.2f} ms wall in the database driver:")
        for sql, samples in sorted(times.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {sum(samples) / REQUESTS:6.2f} ms  {len(samples) / REQUESTS:g}×  {sql}")
        # CPU time: waits on the database count as nothing
        profiler = profiled(lambda: _run(client, REQUESTS), os.environ.get("PROFILE_DUMP"), timer=time.process_time)
        engine.dispose()
    print_profile(profiler, REQUESTS, TOP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
