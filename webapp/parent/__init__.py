"""The parent's area: children, the record to check, corrections, sheet upload and status."""

from flask import Blueprint

bp = Blueprint("parent", __name__, url_prefix="/parent")

from webapp.parent import views  # noqa: E402,F401
