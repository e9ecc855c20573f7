"""Small pieces the use cases share: who acts, the clock, audit rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import AuditEvent, utcnow
from confirm.security import new_digits


@dataclass(frozen=True)
class Actor:
    """Who performs a use case: a parent, a staff user or the system."""

    kind: str  # "parent" | "staff" | "system"
    id: int | None
    ip: str | None = None


SYSTEM = Actor("system", None)


def audit(
    session: Session,
    actor: Actor,
    action: str,
    *,
    school_id: int | None = None,
    target: Any = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one audit event (the table refuses updates and deletes)."""
    event = AuditEvent(
        at=at or utcnow(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=str(action),  # also an enum's value
        school_id=school_id,
        target_type=type(target).__tablename__ if target is not None else None,
        target_id=getattr(target, "id", None),
        detail=detail or {},
        ip=actor.ip,
    )
    session.add(event)
    return event


def unique_number(session: Session, column, length: int) -> str:
    """A random ``length``-digit number not yet in ``column`` (platform numbers, photo-upload numbers)."""
    while True:
        number = new_digits(length)
        if session.scalar(select(column).where(column == number).limit(1)) is None:
            return number


def mask_id_number(number: str) -> str:
    """520102********0011 — the region and the last four, never the birth date in the middle."""
    return f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}" if len(number) >= 14 else "****"


def mask_phone(phone: str) -> str:
    """138****1234 — enough for a person to recognise, too little to misuse."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 11 else "****"
