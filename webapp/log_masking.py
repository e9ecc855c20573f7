"""The log filter that keeps mobile numbers and ID numbers out of every log line (confirm.masking does the
masking). Installed on the root logger's handlers by the app factory — so also in the worker and every CLI command,
which run inside the app — and on gunicorn's loggers by gunicorn.conf.py.

A record is masked once, in place: its message is rendered with its arguments, masked, and the arguments dropped,
so no handler (and no formatter with ``%(args)s``) sees the raw values; a traceback is rendered and masked too (a
database error's text may quote the offending row: ``Key (phone)=(138…) already exists``).
"""

from __future__ import annotations

import logging

from confirm.masking import mask_personal_numbers

_MASKED = "_personal_numbers_masked"


class MaskingFilter(logging.Filter):
    """Masks phone and ID numbers in a record's message, arguments, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _MASKED, False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is, masked, rather than lose the line
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_personal_numbers(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_numbers(record.exc_text)
            # the traceback text stays (masked); the exception object, which a formatter would render again, goes
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_personal_numbers(record.stack_info)
        setattr(record, _MASKED, True)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put the masking filter on every handler of ``logger`` (default: the root logger) and on the logger itself;
    safe to call again (each app the factory builds calls it)."""
    logger = logger or logging.getLogger()
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, MaskingFilter) for f in target.filters):
            target.addFilter(MaskingFilter())
