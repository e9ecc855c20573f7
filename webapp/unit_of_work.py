"""Helpers that carry domain errors back onto WTForms forms."""

from __future__ import annotations

from flask import flash
from flask_babel import gettext

from confirm.errors import DomainError, FieldErrors, RecordedRefusal
from confirm.i18n import Message


def render(message: Message | str) -> str:
    """A domain message in the user's language."""
    return message.render(gettext) if isinstance(message, Message) else gettext(message)


def apply_errors(form, error: DomainError) -> None:
    """Put each (field, message) of ``error`` on the matching form field; the rest are flashed."""
    items = error.errors if isinstance(error, FieldErrors) else [("", error.message)]
    for name, message in items:
        text = render(message)
        field = form._fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, text] if isinstance(field.errors, list) else [text]
        else:
            flash(text, "error")


def attempt(form, call):
    """Run one use case for ``form`` and commit once: on success, and on a refusal whose bookkeeping must
    stay (a counted failed try, an audited refusal); roll back on any other domain error. Errors go onto
    the form. Returns (succeeded, the use case's result)."""
    from webapp.adapters import db

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
