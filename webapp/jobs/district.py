"""Counting schools again for the district pages: the job the district page asks for when a school's counts are
missing or old, and what ``flask refresh-district-stats`` runs from cron for every school."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from confirm.models import School
from confirm.services.district_stats import REFRESH_CHUNK, refresh_progress

log = logging.getLogger(__name__)


def refresh_school_progress(school_ids: list[int], only_stale: bool = True) -> int:
    """The job: count the schools again, committing every REFRESH_CHUNK schools; returns how many were counted.
    Schools counted by another run a moment ago are skipped (``only_stale``), so a repeated job costs one query."""
    done = 0
    ids = [int(i) for i in school_ids]
    with current_app.extensions["db_sessionmaker"]() as session:
        for start in range(0, len(ids), REFRESH_CHUNK):
            done += refresh_progress(session, ids[start:start + REFRESH_CHUNK], only_stale=only_stale)
            session.commit()
    log.info("counted %s of %s schools for the district pages", done, len(ids))
    return done


def refresh_all(only_stale: bool = True) -> int:
    """Count every school again (cron: ``flask refresh-district-stats``)."""
    with current_app.extensions["db_sessionmaker"]() as session:
        ids = list(session.scalars(select(School.id).where(School.district_id.is_not(None)).order_by(School.id)))
    return refresh_school_progress(ids, only_stale=only_stale)
