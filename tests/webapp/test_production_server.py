"""The gunicorn configuration shipped with the project: its limits sit above the app's own budgets, so the app —
not the server — answers a request whose outside service fails; and every answer carries a request id the log
has too."""

from __future__ import annotations

import logging
import runpy
import subprocess
import sys
from pathlib import Path

from webapp.budget import PAGE_SECONDS, UPLOAD_SECONDS

ROOT = Path(__file__).resolve().parents[2]


def test_gunicorns_timeouts_are_above_the_request_budgets():
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["timeout"] > UPLOAD_SECONDS > PAGE_SECONDS
    assert config["graceful_timeout"] > UPLOAD_SECONDS  # a reload lets uploads in flight answer
    assert config["worker_class"] == "gthread" and config["threads"] >= 2 and config["workers"] >= 2
    assert config["wsgi_app"] == "webapp:create_app()"
    assert "x-request-id" in config["access_log_format"]


def test_gunicorn_accepts_the_configuration():
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--check-config"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_request_id_of_an_error_page_is_the_proxys_and_is_in_the_log(app, caplog):
    from uploads.storage import StorageUnavailable
    from webapp.errors import RequestIdFilter, storage_page

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.ERROR, logger="webapp.errors"), \
            app.test_request_context("/files/1", headers={"X-Request-ID": "nginx-req-0002"}):
        body, status, headers = storage_page(StorageUnavailable("S3 get_object: ReadTimeoutError"))
    assert status == 503 and "nginx-req-0002" in body and headers["Retry-After"]
    assert [r.request_id for r in caplog.records if r.name == "webapp.errors"] == ["nginx-req-0002"]


def test_every_answer_carries_its_request_id(client):
    given = client.get("/healthz", headers={"X-Request-ID": "nginx-req-0001"})
    assert given.headers["X-Request-ID"] == "nginx-req-0001"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"})
    assert made.headers["X-Request-ID"] != "bad id; with spaces" and len(made.headers["X-Request-ID"]) == 12
