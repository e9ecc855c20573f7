"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from webapp.adapters import db
from webapp.adapters.storage import store

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database and the object storage answer."""
    checks = {}
    try:
        db.session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is the probe
        log.warning("readiness: database unavailable: %s", type(exc).__name__)
        checks["database"] = "unavailable"
    try:
        store().check()
        checks["storage"] = "ok"
    except Exception as exc:
        log.warning("readiness: storage unavailable: %s", type(exc).__name__)
        checks["storage"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
