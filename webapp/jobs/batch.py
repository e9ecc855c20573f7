"""The job that matches one photo of a head teacher's batch upload (``confirm.services.paper.process_item``).

It runs in the RQ worker when REDIS_URL is set, else right after the response of the upload. It uses a session of
its own, because in the worker the app context (and so ``db.session()``) lives for many jobs.
"""

from __future__ import annotations

import logging

from flask import current_app

from confirm.errors import DomainError
from confirm.models import BatchItem
from confirm.services import paper
from confirm.states import BatchItemStatus
from webapp.adapters.photos import examiner
from webapp.adapters.storage import store

log = logging.getLogger(__name__)


def process_batch_item(item_id: int) -> str:
    """Match and file one photo; never leaves it pending for ever. Returns the photo's status."""
    with current_app.extensions["db_sessionmaker"]() as session:
        item = session.get(BatchItem, item_id)
        if item is None:
            return "missing"
        try:
            paper.process_item(session, item, store=store(), examiner=examiner())
        except Exception as exc:  # e.g. the parent submitted a moment ago, or a photo that breaks the intake
            if not isinstance(exc, DomainError):
                log.exception("batch item %s could not be processed", item_id)
            session.rollback()
            item = session.get(BatchItem, item_id)
            if item.status == BatchItemStatus.PENDING:
                paper.give_up_item(session, item, exc if isinstance(exc, DomainError) else None, store=store())
        session.commit()
        return item.status
