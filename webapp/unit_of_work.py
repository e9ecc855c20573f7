"""The one place a request commits: run the request's use case, commit once, and carry domain errors back to the
user (onto the form's fields, or as a message at the top of the page).

Views never commit themselves. After the commit, what the use case queued runs (see ``confirm.unit_of_work``):
messages go to the sender, stored objects that are no longer needed are deleted.

The one other thing committed here is the ledger of pending object keys (``SessionLedger``): an upload's key is
committed, in a short transaction of its own, before its object is written, so that a crash between the write and
the request's commit leaves a record the storage sweep can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, flash
from flask_babel import gettext
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from confirm.errors import DomainError, FieldErrors, RecordedRefusal
from confirm.i18n import Message
from confirm.models import PendingObject, utcnow
from confirm.storage_keys import PendingState
from confirm.unit_of_work import LEDGER
from webapp.adapters import db

T = TypeVar("T")


def render(message: Message | str) -> str:
    """A domain message in the user's language."""
    return message.render(gettext) if isinstance(message, Message) else gettext(message)


def apply_errors(form, error: DomainError, *, unnamed_on: str = "") -> None:
    """Put each (field, message) of ``error`` on the matching form field; the rest are flashed — or, with
    ``unnamed_on``, those naming no field go on that field (an upload form: the file is what must change)."""
    items = error.errors if isinstance(error, FieldErrors) else [("", error.message)]
    fields = form._fields if form is not None else {}
    for name, message in items:
        text = render(message)
        field = fields.get(name or unnamed_on) if (name or unnamed_on) else None
        if field is not None:
            field.errors = [*field.errors, text] if isinstance(field.errors, list) else [text]
        else:
            flash(text, "error")


def attempt(form, call: Callable[[], T], *, unnamed_on: str = "") -> tuple[bool, T | None]:
    """Run one use case and commit once: on success, and on a refusal whose bookkeeping must stay (a counted
    failed try, an audited refusal); roll back on any other domain error. Errors go onto ``form`` (or, without a
    form, to the top of the page). Returns (succeeded, the use case's result)."""
    session = db.session()
    try:
        result = call()
    except RecordedRefusal as exc:
        session.commit()
        apply_errors(form, exc, unnamed_on=unnamed_on)
        return False, None
    except DomainError as exc:
        session.rollback()
        apply_errors(form, exc, unnamed_on=unnamed_on)
        return False, None
    session.commit()
    return True, result


class SessionLedger:
    """``confirm.unit_of_work.PendingLedger`` on the app's database: each record in a transaction of its own."""

    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def hold(self, session: Session, key: str) -> None:
        if _holds_sqlite_write_lock(session):
            # SQLite has one writer, and this transaction is it: a transaction of our own would wait for it. The
            # record then goes with the transaction (development only; PostgreSQL always takes the path below).
            session.add(PendingObject(key=key, state=PendingState.WRITING.value, created_at=utcnow()))
            return
        with self.sessions() as s:
            s.add(PendingObject(key=key, state=PendingState.WRITING.value, created_at=utcnow()))
            s.commit()

    def abandon(self, key: str) -> None:
        with self.sessions() as s:
            row = s.get(PendingObject, key)
            if row is None:
                s.add(PendingObject(key=key, state=PendingState.ABANDONED.value, created_at=utcnow()))
            else:
                row.state = PendingState.ABANDONED.value
            s.commit()

    def release(self, key: str) -> None:
        with self.sessions() as s:
            s.execute(delete(PendingObject).where(PendingObject.key == key))
            s.commit()


def _holds_sqlite_write_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return False
    return bool(getattr(session.connection().connection.dbapi_connection, "in_transaction", False))


def init_app(app: Flask) -> None:
    """Give the app's sessions their ledger of pending object keys."""
    sessions = app.extensions["db_sessionmaker"]
    sessions.configure(info={**sessions.kw.get("info", {}), LEDGER: SessionLedger(sessions)})
