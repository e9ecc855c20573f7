"""What the benchmarks share: a private PostgreSQL schema, this process's memory figures, cProfile's tables."""

from __future__ import annotations

import io
import pstats
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def private_schema(base: str, prefix: str = "bench") -> Iterator[str]:
    """A fresh schema in the database at ``base``, dropped afterwards; yields the URL whose search_path is it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def print_profile(profiler, requests: int, top: int, title: str = "") -> None:
    """cProfile's ``top`` functions by own and by cumulative time, for ``requests`` requests of ``title``."""
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n== {title}by {order} ({requests} requests)\n" + out.getvalue().split("\n", 6)[-1])


def vm_mb(field: str = "VmHWM") -> float:
    """A /proc/self/status figure in MB: VmHWM is the peak RSS, VmRSS the current one.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent process.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def migrate(url: str, root, **env: str) -> None:
    """``flask db upgrade`` of the checkout at ``root`` on ``url`` (a baseline checkout migrates with its own code)."""
    import os
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "db", "upgrade"], cwd=root, check=True,
                   env={**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 40, **env},
                   capture_output=True, timeout=300)


def bench_app(url: str, storage_dir):
    """The app as gunicorn builds it (not in testing mode) on ``url``, with local storage and SMS kept in memory."""
    from webapp import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 40,
                       "STORAGE_URL": f"file://{storage_dir}/storage", "SMS_BACKEND": "memory",
                       "PUBLIC_BASE_URL": "http://127.0.0.1:5000"})


def login_form(page: str, login: str, password: str) -> dict[str, str]:
    """The login form as a browser sends it: the page's hidden fields (CSRF, one-time token) and the credentials."""
    import re

    form = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="hidden"' in tag and name and value:
            form[name[1]] = value[1]
    return {**form, "login": login, "password": password}


def timed_gets(client, path: str, n: int) -> tuple[list[float], float]:
    """Wall ms of each of ``n`` GETs of ``path`` through a test client, and this process's CPU ms per GET."""
    import time

    wall = []
    cpu = time.process_time()
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        wall.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return wall, (time.process_time() - cpu) * 1000 / n


def profiled(run, dump: str | None = None, *, timer=None):
    """``run()`` under cProfile (``timer``: e.g. time.process_time, so waits count as nothing); saved to ``dump``."""
    import cProfile

    profiler = cProfile.Profile(timer) if timer else cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    if dump:
        profiler.dump_stats(dump)
    return profiler
