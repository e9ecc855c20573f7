"""Pages under load, as production serves them: gunicorn (the project's gunicorn.conf.py, 2 workers) on PostgreSQL.

Creates a private schema in postgresql+psycopg://postgres@127.0.0.1:5432/test_perf (or BENCH_DATABASE_URL),
migrates it, seeds one class of 45 students with a parent (one correction typed) and the head teacher, signs both in,
then sends GETs from 16 keep-alive connections (stdlib http.client, one thread each, loopback only) for a few
seconds per page: /healthz (the baseline, same server, same run), the parent's record page and the teacher's class
page, as a browser asks for them (Accept-Encoding: br, gzip); for this checkout also a page a signed-in parent may
open that shows nothing (what every parent page costs before its own work). Prints requests/s, p50/p95, the ratio
of each page to /healthz, the gunicorn processes' CPU time per request (steadier than requests/s on a busy machine:
the same ratio, from CPU time), and the record page's size plain, gzip and brotli. Drops the schema at the end.

    .venv/bin/python benchmarks/load_pages.py                         # this checkout
    .venv/bin/python benchmarks/load_pages.py --baseline /tmp/perf-base   # and another checkout first, for before/after
    BENCH_THREADS=2 .venv/bin/python benchmarks/load_pages.py   # threads per worker (default 4, as gunicorn.conf.py)

Targets (issue 14): record page ≥ 0.20 × /healthz requests/s, p95 ≤ 50 ms; record page ≤ 12 KB compressed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import login_form, migrate, private_schema  # noqa: E402

BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_perf")
CONNECTIONS = 16
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
WARMUP_SECONDS = 1.5
THREADS = int(os.environ.get("BENCH_THREADS", "4"))  # per worker, as gunicorn.conf.py


def _seed(url: str) -> dict:
    from confirm.services import records
    from confirm.services.common import Actor
    from tests.factories import (
        PASSWORD,
        make_campaign,
        make_class,
        make_parent,
        make_school,
        make_staff,
        make_student,
    )
    from webapp.adapters.db import make_engine

    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        school = make_school(s)
        campaign = make_campaign(s, school)
        teacher = make_staff(s, school, username="bench_teacher")
        school_class = make_class(s, school, teacher)
        students = [make_student(s, school_class) for _ in range(45)]
        parent = make_parent(s, students[0])
        confirmation = records.ensure_confirmation(s, campaign, students[0])
        records.save_corrections(s, confirmation, {(0, "current_address"): "贵阳市新地址8号"},
                                 actor=Actor("parent", parent.id))
        s.commit()
        seeded = {"parent": parent.phone, "teacher": teacher.username, "password": PASSWORD,
                  "student_id": students[0].id, "class_id": school_class.id}
    engine.dispose()
    return seeded


def _sign_in(base: str, login: str, password: str) -> str:
    """Sign in through the login form (CSRF and one-time token included); returns the Cookie header."""
    browser = requests.Session()
    form = login_form(browser.get(f"{base}/login", timeout=10).text, login, password)
    answer = browser.post(f"{base}/login", data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, (answer.status_code, answer.text[:500])
    return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def _load(base: str, path: str, cookie: str, seconds: float) -> tuple[int, list[float], float]:
    """GET ``path`` from CONNECTIONS keep-alive connections for ``seconds``: (answers, latencies in ms, seconds)."""
    parts = urlsplit(base)
    headers = {"Accept-Encoding": "br, gzip", "Cookie": cookie} if cookie else {"Accept-Encoding": "br, gzip"}
    latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    errors: list[str] = []
    start_at = time.perf_counter() + 0.2
    stop_at = start_at + seconds

    def worker(mine: list[float]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.perf_counter() < start_at:
            time.sleep(0.005)
        while (now := time.perf_counter()) < stop_at:
            try:
                conn.request("GET", path, headers=headers)
                answer = conn.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            if answer.status != 200:
                errors.append(f"HTTP {answer.status}")
            mine.append((time.perf_counter() - now) * 1000)
        conn.close()

    threads = [threading.Thread(target=worker, args=(mine,)) for mine in latencies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"{path}: {len(errors)} failed requests, e.g. {errors[:3]}"
    flat = [x for mine in latencies for x in mine]
    return len(flat), flat, seconds


def _server_cpu_seconds(base: str) -> float:
    """CPU seconds used so far by the gunicorn processes (master and workers) serving ``base`` (Linux /proc)."""
    bind = urlsplit(base).netloc.encode()
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if bind not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _sizes(base: str, path: str, cookie: str) -> dict[str, int]:
    """Bytes of one answer of ``path`` as sent: without compression, with gzip, with brotli."""
    parts = urlsplit(base)
    out = {}
    for name, encoding in (("plain", "identity"), ("gzip", "gzip"), ("br", "br")):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", path, headers={"Accept-Encoding": encoding, "Cookie": cookie})
        answer = conn.getresponse()
        body = answer.read()
        sent = answer.getheader("Content-Encoding") or "identity"
        out[name] = len(body) if sent == encoding else -len(body)  # negative: the server did not compress
        conn.close()
    return out


def floor_app():
    """The app with a page a signed-in parent may open that shows nothing (benchmarks/profile_record.py): what any
    parent page costs before its own work, on the same server."""
    from benchmarks.profile_record import _add_floor_page
    from webapp import create_app

    app = create_app()
    _add_floor_page(app)
    return app


def measure(app_root: Path, label: str) -> dict:
    """Migrate a fresh schema with ``app_root``'s code, seed it, serve it with gunicorn and load it."""
    from benchmarks.profile_record import FLOOR
    from tests.servers import gunicorn

    with_floor = app_root == ROOT  # the page is this checkout's benchmark code
    with private_schema(BASE) as url, tempfile.TemporaryDirectory() as tmp:
        migrate(url, app_root, PYTHONPATH=str(app_root))
        seeded = _seed(url)
        with gunicorn(url, Path(tmp), workers=2, threads=THREADS, root=app_root, PYTHONPATH=str(app_root),
                      app="benchmarks.load_pages:floor_app()" if with_floor else "webapp:create_app()",
                      # no worker recycled mid-run (max_requests): its CPU time would leave the sum
                      GUNICORN_CMD_ARGS="--max-requests 0") as base:
            parent = _sign_in(base, seeded["parent"], seeded["password"])
            teacher = _sign_in(base, seeded["teacher"], seeded["password"])
            pages = {
                "/healthz": ("/healthz", ""),
                **({"signed in, nothing shown": (FLOOR, parent)} if with_floor else {}),
                "record page": (f"/parent/students/{seeded['student_id']}", parent),
                "class page": (f"/teacher/classes/{seeded['class_id']}", teacher),
            }
            results = {}
            for name, (path, cookie) in pages.items():
                _load(base, path, cookie, WARMUP_SECONDS)
                cpu = _server_cpu_seconds(base)
                count, samples, seconds = _load(base, path, cookie, SECONDS)
                cpu = _server_cpu_seconds(base) - cpu
                cuts = statistics.quantiles(samples, n=100, method="inclusive")
                results[name] = {"rps": count / seconds, "p50": statistics.median(samples), "p95": cuts[94],
                                 "cpu_ms": cpu * 1000 / count}
            results["sizes"] = _sizes(base, pages["record page"][0], parent)
    _report(label, results)
    return results


def _report(label: str, results: dict) -> None:
    health = results["/healthz"]["rps"]
    health_cpu = results["/healthz"]["cpu_ms"]
    print(f"\n== {label}: gunicorn 2 workers × {THREADS} threads, {CONNECTIONS} connections, {SECONDS:.0f} s per page")
    for name in ("/healthz", "signed in, nothing shown", "record page", "class page"):
        if name not in results:
            continue
        r = results[name]
        print(f"{name:24s} {r['rps']:8.0f} req/s   p50 {r['p50']:6.1f} ms   p95 {r['p95']:6.1f} ms   "
              f"× /healthz {r['rps'] / health:5.3f}   server CPU {r['cpu_ms']:5.2f} ms/request "
              f"(/healthz's ÷ this: {health_cpu / r['cpu_ms']:5.3f})")
    sizes = results["sizes"]
    shown = {k: (f"{v:,} B" if v >= 0 else f"{-v:,} B (not compressed)") for k, v in sizes.items()}
    print(f"record page: {shown['plain']} plain, {shown['gzip']} gzip, {shown['br']} brotli")
    ratio = results["record page"]["rps"] / health
    ok = ratio >= 0.20 and results["record page"]["p95"] <= 50 and 0 <= sizes["br"] <= 12 * 1024
    print(f"targets (record ≥ 0.20 × /healthz, p95 ≤ 50 ms, ≤ 12 KB compressed): {'met' if ok else 'NOT met'}")


def main() -> int:
    import logging

    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. a worktree of main) measured first")
    args = parser.parse_args()
    if args.baseline:
        before = measure(args.baseline.resolve(), f"before ({args.baseline})")
    after = measure(ROOT, f"after ({ROOT})")
    if args.baseline:
        print("\n== after / before")
        for name in ("/healthz", "record page", "class page"):
            print(f"{name:24s} req/s × {after[name]['rps'] / before[name]['rps']:5.2f}   "
                  f"p95 × {after[name]['p95'] / before[name]['p95']:5.2f}")
        print(f"record page bytes sent to a browser: {abs(before['sizes']['br']):,} → {abs(after['sizes']['br']):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
