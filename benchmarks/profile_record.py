"""Where one parent record page's time goes, in one process: the app on PostgreSQL (as gunicorn builds it, not in
testing mode), a parent signed in through the login form, then the record page asked N times through the test client.

Prints the time per request without a profiler, the SQL statements and pool checkouts per request, the same for
/healthz (the baseline of the load benchmark, measured in the same run) and for a signed-in page that shows nothing
(what every parent page costs before its own work), and the cProfile functions with the most time
(own and cumulative). Uses a private schema of postgresql+psycopg://postgres@127.0.0.1:5432/test_perf (or
BENCH_DATABASE_URL), dropped at the end.

    .venv/bin/python benchmarks/profile_record.py            # 200 requests
    PROFILE_REQUESTS=500 PROFILE_TOP=40 .venv/bin/python benchmarks/profile_record.py
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import (  # noqa: E402
    bench_app,
    login_form,
    migrate,
    print_profile,
    private_schema,
    profiled,
)

BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_perf")
REQUESTS = int(os.environ.get("PROFILE_REQUESTS", "200"))
TOP = int(os.environ.get("PROFILE_TOP", "30"))


def _sign_in(client, login: str, password: str) -> None:
    answer = client.post("/login", data=login_form(client.get("/login").get_data(as_text=True), login, password))
    assert answer.status_code == 302, (answer.status_code, answer.get_data(as_text=True)[:500])


def _per_request(client, path: str, engine, n: int) -> tuple[float, float, Counter]:
    """Mean wall and CPU ms per GET of ``path`` over ``n`` requests, and the statements and checkouts counted."""
    counts: Counter = Counter()

    def statement(_conn, _cursor, sql, *_args):
        counts[sql.split(None, 1)[0].upper()] += 1

    def checkout(*_args):
        counts["pool checkouts"] += 1

    def transaction(name):
        return lambda *_args: counts.update([name])

    listeners = [(engine, "before_cursor_execute", statement), (engine.pool, "checkout", checkout),
                 *((engine, name, transaction(name.upper())) for name in ("begin", "commit", "rollback"))]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        answer = client.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert answer.status_code == 200, answer.status_code
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    for target, name, listener in listeners:
        event.remove(target, name, listener)
    return elapsed * 1000 / n, cpu * 1000 / n, Counter({k: v / n for k, v in counts.items()})


FLOOR = "/_bench/signed-in"


def _add_floor_page(app) -> None:
    """A page that a signed-in parent may open and that shows nothing: what any parent page costs before its own
    work (the session row, the parent with the children, the hooks of every request)."""
    from confirm.roles import Role
    from webapp.auth.identity import roles_required

    @app.get(FLOOR)
    @roles_required(Role.PARENT)
    def _signed_in():
        return "ok"


def main() -> int:
    from benchmarks.load_pages import _seed

    logging.disable(logging.WARNING)
    with private_schema(BASE, "prof") as url, tempfile.TemporaryDirectory() as tmp:
        migrate(url, ROOT)
        seeded = _seed(url)
        app = bench_app(url, tmp)
        _add_floor_page(app)
        engine = app.extensions["db_engine"]
        client = app.test_client()
        _sign_in(client, seeded["parent"], seeded["password"])
        path = f"/parent/students/{seeded['student_id']}"
        _per_request(client, path, engine, 20)  # warm-up: templates compiled, pool filled
        health_ms, health_cpu, _ = _per_request(client, "/healthz", engine, REQUESTS)
        floor_ms, floor_cpu, floor_counts = _per_request(client, FLOOR, engine, REQUESTS)
        ms, cpu, counts = _per_request(client, path, engine, REQUESTS)
        print(f"/healthz     {health_ms:6.2f} ms/request, CPU {health_cpu:6.2f} ms")
        print(f"signed in, nothing shown {floor_ms:6.2f} ms/request, CPU {floor_cpu:6.2f} ms  ("
              + ", ".join(f"{v:g} {k}" for k, v in sorted(floor_counts.items())) + ")")
        print(f"record page  {ms:6.2f} ms/request, CPU {cpu:6.2f} ms  (/healthz ÷ this: {health_cpu / cpu:5.3f})")
        print("per record page: " + ", ".join(f"{v:g} {k}" for k, v in sorted(counts.items())))
        profiler = profiled(lambda: _per_request(client, path, engine, REQUESTS), os.environ.get("PROFILE_DUMP"))
        engine.dispose()
    print_profile(profiler, REQUESTS, TOP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
