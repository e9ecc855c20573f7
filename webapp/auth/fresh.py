"""How recently this browser's user proved who they are: a sign-in or the current password typed again (any user),
or an SMS step-up (staff). Sensitive steps — a new password, a teacher's phone or password, exports of personal
data — ask for one within the last few minutes (``require_recent_auth``).

The times are kept in the server-side session, so they end with it.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import wraps

from flask import redirect, request, session, url_for
from flask_login import current_user

RECENT = 5 * 60  # seconds
_SIGNED_IN_AT = "auth_at"


def _clock() -> float:
    return time.time()

_STEPUP = "stepup"


def mark_authenticated() -> None:
    """The user has just typed their password (at sign-in or again)."""
    session[_SIGNED_IN_AT] = _clock()


def mark_stepped_up(staff_id: int, until: datetime) -> None:
    """A staff user has just entered a step-up code; sensitive actions are unlocked until ``until``."""
    session[_STEPUP] = {"staff": staff_id, "until": until.timestamp(), "at": _clock()}


def stepup_is_fresh() -> bool:
    """True while this session's step-up verification of the current staff user is still valid."""
    state = session.get(_STEPUP) or {}
    return state.get("staff") == current_user.id and state.get("until", 0) > _clock()


def recently_authenticated() -> bool:
    """A password typed in the last few minutes — or, for staff, a step-up code."""
    if _clock() - session.get(_SIGNED_IN_AT, 0) < RECENT:
        return True
    state = session.get(_STEPUP) or {}
    return (current_user.is_authenticated and current_user.kind == "staff" and state.get("staff") == current_user.id
            and _clock() - state.get("at", 0) < RECENT)


def to_reauthenticate(next_path: str):
    """Ask for the current password, then carry on at ``next_path``."""
    return redirect(url_for("auth.reauthenticate", next=next_path))


def require_recent_auth(back_to=None):
    """The view's POSTs need a recent password (or staff step-up); others are sent to type it, then to
    ``back_to()`` (the page the form was on; default: this path)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.method == "POST" and not recently_authenticated():
                return to_reauthenticate(back_to() if back_to else request.path)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def ask_again_unless_recent():
    """For a GET that hands out personal data in bulk (a whole-school export): None after a recent password or
    step-up; else the redirect to type the password, which leads back to this very address (query included)."""
    if recently_authenticated():
        return None
    return to_reauthenticate(request.full_path.rstrip("?"))
