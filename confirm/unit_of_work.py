"""What happens around a commit: side effects that must wait for it, and cleanup when it does not come.

Services flush and never commit. What they must not do before the data is saved — hand an SMS to the sender,
delete a stored object — they register here; the request (or job, or command) commits once, and then:

* ``after_commit`` callbacks run (object deletions that the new state no longer needs);
* messages announced with ``announce`` are handed to the session's sender (``session.info["deliver"]``,
  installed by the app's session factory): the worker's queue, or a single attempt after the response;
* on a rollback both are dropped, and ``on_rollback`` callbacks run instead (objects written for rows that will
  now never exist).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_AFTER_COMMIT = "after_commit"
_ON_ROLLBACK = "on_rollback"
_OUTBOX = "outbox"
DELIVER = "deliver"  # session.info key of the callable that takes committed message ids
LEDGER = "pending_ledger"  # session.info key of the PendingLedger: object keys recorded apart from the transaction


class PendingLedger(Protocol):
    """Records object keys in transactions of their own (``pending_objects``), installed by the app's sessions."""

    def hold(self, session: Session, key: str) -> None:
        """Record ``key`` as being written, committed before the object is (see ``confirm.models.PendingObject``)."""

    def abandon(self, key: str) -> None:
        """Mark ``key`` as an object no row will refer to: the sweep removes it whatever its age."""

    def release(self, key: str) -> None:
        """Forget ``key``: its object is gone."""


def ledger(session: Session) -> PendingLedger | None:
    """The session's ledger of pending object keys (none in plain domain tests: nothing is recorded then)."""
    return session.info.get(LEDGER)


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` after ``session`` commits; drop it if the session rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


def on_rollback(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` if ``session`` rolls back before it commits (undo what the database cannot: stored objects)."""
    session.info.setdefault(_ON_ROLLBACK, []).append(fn)


def announce(session: Session, message_id: int) -> None:
    """Hand the outbox row ``message_id`` to the sender once the transaction that wrote it has committed."""
    session.info.setdefault(_OUTBOX, []).append(message_id)


def _run(callbacks: list[Callable[[], None]], what: str) -> None:
    for fn in callbacks:
        try:
            fn()
        except Exception as exc:  # the data is saved (or rolled back); a failed side effect is logged, never raised
            # Only the error's type: provider messages (e.g. Twilio's) quote the full phone number.
            log.error("%s failed: %s", what, type(exc).__name__)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction itself has not committed yet
        return
    session.info.pop(_ON_ROLLBACK, None)
    _run(session.info.pop(_AFTER_COMMIT, []), "side effect after commit")
    ids = session.info.pop(_OUTBOX, [])
    deliver = session.info.get(DELIVER)
    if ids and deliver is not None:
        _run([lambda: deliver(ids)], "handing messages to the sender")


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():  # back to a savepoint: the rest of the transaction goes on
        return
    discard(session)


@event.listens_for(Session, "after_transaction_end")
def _end_without_commit(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outer transaction ended; after a commit nothing is left here
        discard(session)


def discard(session: Session) -> None:
    """Forget what waited for a commit that will not come, and undo what was written outside the database."""
    session.info.pop(_AFTER_COMMIT, None)
    session.info.pop(_OUTBOX, None)
    _run(session.info.pop(_ON_ROLLBACK, []), "cleanup after rollback")
