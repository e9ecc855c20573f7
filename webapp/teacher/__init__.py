"""The head teacher's area: class progress, students by stage, review, registration-code slips."""

from flask import Blueprint

bp = Blueprint("teacher", __name__, url_prefix="/teacher")

from webapp.teacher import (  # noqa: E402,F401
    account_help,
    archives,
    directory,
    flags,
    outreach,
    paper,
    paper_print,
    queue,
    stats,
    stepup,
    views,
)
