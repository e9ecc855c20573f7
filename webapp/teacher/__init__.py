"""The head teacher's area: class progress, students by stage, review, registration-code slips."""

from flask import Blueprint

bp = Blueprint("teacher", __name__, url_prefix="/teacher")

from webapp.teacher import account_help, outreach, paper, paper_print, queue, stats, views  # noqa: E402,F401
