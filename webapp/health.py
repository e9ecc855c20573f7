"""Liveness and readiness probes for load balancers and orchestrators.

``/healthz`` touches nothing outside the process. ``/readyz`` asks the database, the object storage and (when one
is configured) the job queue at the same time and answers within ``READY_SECONDS`` whatever they do, naming each
one that is down; a queue that is down does not make the app unready (jobs then run right after their response).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from uploads.storage import StorageMisconfigured
from webapp.adapters import db
from webapp.adapters.storage import store

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
READY_SECONDS = 1.5  # the probe's own deadline: the answer is out well within 2 s
REQUIRED = ("database", "storage")


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


def _database(engine) -> str:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def _storage(backend) -> str:
    try:
        backend.check()
    except StorageMisconfigured as exc:
        return "bucket missing" if "does not exist" in str(exc) else "refused (configuration)"
    return "ok"


def _queue(queue) -> str:
    queue.connection.ping()
    return "ok"


def _run_all(checks: dict, deadline: float) -> dict[str, str]:
    """Each check in a thread of its own; a check that has not answered by ``deadline`` is "timed out"."""
    results: dict[str, str] = {}

    def run(name, check):
        try:
            results[name] = check()
        except Exception as exc:  # report, don't crash: this is the probe
            log.warning("readiness: %s unavailable: %s", name, type(exc).__name__)
            results[name] = "unavailable"

    threads = [threading.Thread(target=run, args=item, name=f"readyz-{item[0]}", daemon=True)
               for item in checks.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for name in checks:
        if name not in results:
            log.warning("readiness: %s did not answer within %.1f s", name, READY_SECONDS)
    return {name: results.get(name, "timed out") for name in checks}


@bp.get("/readyz")
def readyz():
    """The database and the object storage answer (and the job queue, when there is one)."""
    engine, backend = db.engine(), store()
    checks = {"database": lambda: _database(engine), "storage": lambda: _storage(backend)}
    queue = current_app.extensions.get("job_queue")
    if queue is not None:
        checks["queue"] = lambda: _queue(queue)
    results = _run_all(checks, time.monotonic() + READY_SECONDS)
    down = [name for name, result in results.items() if result != "ok"]
    ready = not any(name in REQUIRED for name in down)
    body = {"status": "ok" if ready else "unavailable", "checks": results}
    if down:
        body["down"] = down
    return jsonify(body), 200 if ready else 503
