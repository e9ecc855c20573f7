"""Links to the platform as people outside it receive them (slips, SMS, printed sheets): one place builds them."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request, url_for

from confirm.invitations import Invitation, make_invitation_token
from confirm.models import Campaign, Student
from confirm.states import Stage
from webapp.adapters.keys import invite_key
from webapp.config import DEVELOPMENT_ADDRESS


def public_base_url() -> str:
    """The platform's public address: PUBLIC_BASE_URL; unset (development only — production refuses to start), the
    address this request came to, so ``make run PORT=5111`` prints and sends http://127.0.0.1:5111."""
    configured = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if configured:
        return configured
    return request.host_url.rstrip("/") if has_request_context() else DEVELOPMENT_ADDRESS


def command_base_url() -> str:
    """The address for a command's stand-in request (links built outside any request): PUBLIC_BASE_URL, or where
    `flask run` serves by default."""
    return current_app.config.get("PUBLIC_BASE_URL") or DEVELOPMENT_ADDRESS


def public_url(path: str) -> str:
    """``path`` on the platform's public address (see public_base_url)."""
    return public_base_url() + path


def registration_url() -> str:
    """Where a parent registers (printed on registration-code slips and sheets)."""
    return public_url(url_for("auth.register"))


def invitation_link(student: Student, campaign: Campaign) -> str:
    """The personal registration link for ``student`` in ``campaign``."""
    token = make_invitation_token(invite_key(), Invitation(student.id, campaign.id))
    return public_url(url_for("auth.register", invite=token))


def message_link(campaign: Campaign | None):
    """For reminders and invitations: the link a family at ``stage`` needs — its invitation; the page where the
    returned sheet is sent again or the returned key-data change is answered (the login comes first when the parent
    is signed out, then that page); else the login page."""

    def link(student: Student, stage: Stage) -> str:
        if stage == Stage.UNREGISTERED:
            return invitation_link(student, campaign) if campaign else registration_url()
        if stage == Stage.RETURNED:
            return public_url(url_for("parent.submit", student_id=student.id))
        if stage == Stage.KEY_RETURNED:
            return public_url(url_for("parent.record", student_id=student.id))
        return public_url(url_for("auth.login"))

    return link


def safe_next(target: str | None, *, within: str = "/") -> str | None:
    """``target`` when it is a path of this site under ``within`` (a ``?next=`` after login or step-up), else None:
    never another host, a scheme, or a protocol-relative ``//host``."""
    if not target or not target.startswith(within) or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "//" in parts.path:
        return None
    return target
