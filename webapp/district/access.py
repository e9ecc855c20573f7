"""What a supervisor may open: their own district, the schools now in it (or below it), nothing else (404)."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from confirm.models import District, School
from confirm.services.districts import school_in_district
from webapp.adapters import db


def own_district() -> District:
    """The signed-in supervisor's district."""
    return db.session().get_one(District, current_user.account.district_id)


def district_school_or_404(school_id: int) -> School:
    """A school now in the supervisor's district or a district below it; any other school is 404."""
    school = school_in_district(db.session(), school_id, current_user.account.district_id)
    if school is None:
        abort(404)
    return school
