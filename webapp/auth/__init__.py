"""Logging in and out, parent registration, language switch."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.auth import account, views  # noqa: E402,F401
