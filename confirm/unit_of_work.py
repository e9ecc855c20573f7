"""Side effects that must only happen once the transaction has committed (SMS, object deletion)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_KEY = "after_commit"


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` after ``session`` commits; drop it if the session rolls back."""
    session.info.setdefault(_KEY, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for fn in session.info.pop(_KEY, []):
        try:
            fn()
        except Exception as exc:  # the data is saved; a failed side effect is logged, never raised into it
            # Only the error's type: provider messages (e.g. Twilio's) quote the full phone number.
            log.error("side effect after commit failed: %s", type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
