"""The school admin's area: the whole school's progress, classes, staff accounts, the campaign, imports."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from webapp.admin import imports, keydata, outreach, views  # noqa: E402,F401
