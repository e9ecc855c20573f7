"""Adapters to the outside world, each built once per app from configuration.

``db`` (the database session of a request), ``storage`` (the object store), ``sms`` (the SMS backend),
``queue`` (the RQ job queue, or a job right after the response), ``outbox`` (handing committed messages to the
sender), ``keys`` (keys derived from SECRET_KEY), ``photos`` (the photo intake behind the services' port) and
``pdf`` (the printed confirmation sheets). Views and jobs reach the outside world only through these modules;
the domain core (``confirm``) sees them only as the ports of ``confirm.ports``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Build every adapter named by the app's configuration."""
    from webapp.adapters import db, keys, outbox, queue, sms, storage

    db.init_app(app)
    keys.init_app(app)
    storage.init_app(app)
    sms.init_app(app)
    queue.init_app(app)
    outbox.init_app(app)
    from webapp import unit_of_work

    unit_of_work.init_app(app)  # the ledger of pending object keys on the app's sessions
