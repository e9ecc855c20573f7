"""Handing committed messages to the sender (``webapp.jobs.messages.deliver``) through the job queue: the RQ
worker when Redis is configured and answers, otherwise a single attempt right after the response.

``init_app`` installs the hand-over as the ``deliver`` of every session the app makes (see
``confirm.unit_of_work``): the commit that writes an outbox row is what hands it over.
"""

from __future__ import annotations

from flask import Flask

from confirm.unit_of_work import DELIVER


def init_app(app: Flask) -> None:
    """Attach the hand-over to the app's sessions."""

    def hand_over(ids: list[int]) -> None:
        from webapp.adapters.queue import enqueue
        from webapp.jobs.messages import deliver

        enqueue(deliver, list(ids))

    sessions = app.extensions["db_sessionmaker"]
    sessions.configure(info={**sessions.kw.get("info", {}), DELIVER: hand_over})
