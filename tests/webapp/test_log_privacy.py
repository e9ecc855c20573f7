"""Personal data stays out of the logs: the engine hides statement parameters, and the filter the app factory
installs masks phone and ID numbers in every record (the whole run's records are checked by tests/conftest.py)."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import exc

from confirm.models import ParentAccount
from confirm.validation import make_resident_id
from tests.conftest import LEAKED_NUMBER, LeakCatcher
from tests.factories import make_parent
from webapp.log_masking import MaskingFilter

PHONE = "13912345678"
ID_18 = make_resident_id("520102", date(2016, 3, 1), 7, "2")


def _record(msg, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("webapp.test", logging.ERROR, __file__, 1, msg, args or None, exc_info)


def test_the_filter_masks_the_message_its_arguments_and_the_traceback():
    try:
        raise ValueError(f"duplicate {PHONE}")
    except ValueError:
        import sys

        record = _record("SMS to %s for %s", PHONE, ID_18, exc_info=sys.exc_info())
    assert MaskingFilter().filter(record) is True
    line = logging.Formatter("%(message)s").format(record)
    assert PHONE not in line and ID_18 not in line and "*******5678" in line and ID_18[-4:] in line
    assert record.args is None and "ValueError: duplicate *******5678" in record.exc_text
    assert not LEAKED_NUMBER.search(line)


def test_a_record_keeps_its_formatting_when_nothing_needs_masking():
    record = _record("%d rows in %.1f s", 3, 0.25)
    MaskingFilter().filter(record)
    assert record.getMessage() == "3 rows in 0.2 s"


def test_the_app_factory_puts_the_filter_on_the_root_loggers_handlers(app):
    catcher = LeakCatcher()
    root = logging.getLogger()
    root.addHandler(catcher)
    try:
        from webapp import log_masking

        log_masking.install()  # what every create_app does: a handler added since gets the filter too
        logging.getLogger("webapp.outbox").warning("could not send to %s (student %s)", PHONE, ID_18)
    finally:
        root.removeHandler(catcher)
    assert catcher.seen == 1 and catcher.leaks == []
    assert any(isinstance(f, MaskingFilter) for h in root.handlers for f in h.filters)
    assert any(isinstance(f, MaskingFilter) for f in app.logger.filters)  # current_app.logger's own records


def test_the_leak_check_itself_catches_an_unmasked_record():
    catcher = LeakCatcher()
    catcher.handle(_record("phone %s", PHONE))
    assert catcher.leaks == [("webapp.test", f"phone {PHONE}")]


def test_a_constraint_error_and_its_log_carry_no_parameters(app, db, caplog):
    nonce = "nonce-must-not-leak-0123456789ab"
    make_parent(db, phone=PHONE)
    db.commit()
    db.add(ParentAccount(phone=PHONE, platform_no="99999999", password_hash="$argon2id$secret-hash",
                         session_nonce=nonce))
    with pytest.raises(exc.IntegrityError) as raised:
        db.flush()
    db.rollback()
    text = str(raised.value)
    assert "parameters hidden" in text
    assert nonce not in text and "secret-hash" not in text  # (PostgreSQL's own DETAIL may quote the phone:)
    with caplog.at_level(logging.ERROR):
        logging.getLogger("webapp.errors").error("unexpected error", exc_info=raised.value)
    logged = "\n".join(logging.Formatter("%(message)s").format(r) for r in caplog.records)
    assert "IntegrityError" in logged and nonce not in logged and "secret-hash" not in logged
    assert PHONE not in logged  # masked by the app's filter
