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
