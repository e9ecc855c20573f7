"""Real HTTP servers for tests that must see the app as a client does: the answer's time, what happens after it,
and what holds across processes.

``serve(app)`` runs the app in werkzeug's threaded server on a free loopback port, in this process;
``gunicorn(url, dir)`` runs it as production does, in several processes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app served on http://127.0.0.1:<free port>; yields the base URL, stops the server at the end."""
    # threaded: a browser may open a speculative connection and not use it; one thread must not wait on it.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def gunicorn(database_url: str, workdir: Path, *, workers: int = 2, threads: int = 2, root: Path = ROOT,
             app: str = "webapp:create_app()", **settings: str) -> Iterator[str]:
    """The app as production runs it: gunicorn with the project's gunicorn.conf.py, ``workers`` processes of
    ``threads`` threads on a free loopback port, configured through the environment like a deployment; yields the
    base URL. Its log is ``workdir/gunicorn.log``. ``root``: the checkout to serve (a benchmark's baseline); ``app``:
    the WSGI app to serve (a benchmark may add a page of its own)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "REDIS_"))}
    env.update({"APP_ENV": "development", "SECRET_KEY": "gunicorn-test-secret-0123456789abcdef0123456789",
                "DATABASE_URL": database_url, "STORAGE_URL": f"file://{workdir / 'storage'}",
                "SMS_BACKEND": "console", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **settings})
    log = (workdir / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), "--workers", str(workers),
         "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "2", app],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {(workdir / 'gunicorn.log').read_text()[-2000:]}")
            try:
                if urllib.request.urlopen(f"{url}/healthz", timeout=1).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
