"""Request rate limits (Flask-Limiter): how many uploads one account, and one address, may send in a minute.

Counted in Redis when REDIS_URL is set — shared by every worker process, atomic — else in this process's memory
(the embedded single-process default). If Redis fails, uploads are let through (a page must not break because a
counter is unreachable); the limits that guard guesses and SMS are kept in the database instead
(``confirm.services.limits``) and never fail open.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_login import current_user

PARENT_UPLOADS = "20 per minute"  # a parent sends a photo or two; twenty is a flood
STAFF_UPLOADS = "120 per minute"  # a head teacher's batch of a whole class, one photo a request
ADDRESS_UPLOADS = "120 per minute"  # one address: a school's Wi-Fi or a carrier's NAT carries many families


def _address() -> str:
    return request.remote_addr or "unknown"


def _account() -> str:
    if current_user.is_authenticated:
        return f"{current_user.kind}:{current_user.id}"
    return f"anonymous:{_address()}"


limiter = Limiter(key_func=_address, default_limits=[], headers_enabled=False, strategy="moving-window",
                  key_prefix="confirm-limits")


def init_app(app: Flask) -> None:
    """Count in Redis when configured, else in memory; let requests through if Redis fails."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": app.config["REDIS_CONNECT_TIMEOUT"],
                                                       "socket_timeout": app.config["REDIS_TIMEOUT"]}
                          if app.config.get("REDIS_URL") else {})
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)


def _too_fast() -> str:
    return _("上传太频繁，请稍后再试")


def upload_limits(per_account: str = PARENT_UPLOADS) -> Callable:
    """The limits of a view that takes photos or files: per account and per address, on POST only."""

    def decorate(view):
        view = limiter.limit(per_account, key_func=_account, methods=["POST"], error_message=_too_fast)(view)
        return limiter.limit(ADDRESS_UPLOADS, key_func=_address, methods=["POST"], error_message=_too_fast,
                             scope="uploads-per-address")(view)

    return decorate
