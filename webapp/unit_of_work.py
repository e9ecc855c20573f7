"""The one place a request commits: run the request's use case, commit once, and carry domain errors back to the
user (onto the form's fields, or as a message at the top of the page).

Views never commit themselves. After the commit, what the use case queued runs (see ``confirm.unit_of_work``):
messages go to the sender, stored objects that are no longer needed are deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash
from flask_babel import gettext

from confirm.errors import DomainError, FieldErrors, RecordedRefusal
from confirm.i18n import Message
from webapp.adapters import db

T = TypeVar("T")


def render(message: Message | str) -> str:
    """A domain message in the user's language."""
    return message.render(gettext) if isinstance(message, Message) else gettext(message)


def apply_errors(form, error: DomainError) -> None:
    """Put each (field, message) of ``error`` on the matching form field; the rest are flashed."""
    items = error.errors if isinstance(error, FieldErrors) else [("", error.message)]
    fields = form._fields if form is not None else {}
    for name, message in items:
        text = render(message)
        field = fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, text] if isinstance(field.errors, list) else [text]
        else:
            flash(text, "error")


def attempt(form, call: Callable[[], T]) -> tuple[bool, T | None]:
    """Run one use case and commit once: on success, and on a refusal whose bookkeeping must stay (a counted
    failed try, an audited refusal); roll back on any other domain error. Errors go onto ``form`` (or, without a
    form, to the top of the page). Returns (succeeded, the use case's result)."""
    session = db.session()
    try:
        result = call()
    except RecordedRefusal as exc:
        session.commit()
        apply_errors(form, exc)
        return False, None
    except DomainError as exc:
        session.rollback()
        apply_errors(form, exc)
        return False, None
    session.commit()
    return True, result
