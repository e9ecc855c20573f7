"""A supervisor's message to a school: a row the school's admins read in the platform, and an SMS to each active
admin with a phone, through the outbox (sent after the commit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from confirm.errors import FieldErrors
from confirm.i18n import N_, Message
from confirm.models import District, DistrictMessage, School, StaffUser, utcnow
from confirm.roles import Role
from confirm.services.common import Actor, audit
from confirm.services.outbox import public_url, queue_sms
from confirm.states import MessageKind

MAX_MESSAGE_LENGTH = 300
SMS_PREVIEW_LENGTH = 40  # the SMS carries the start of the message and a link; the whole text is in the platform


def send_school_message(session: Session, district: District, school: School, body: str, *, sender: StaffUser,
                        actor: Actor, now: datetime | None = None) -> DistrictMessage:
    """Leave ``body`` for ``school``'s admins and text each of them."""
    now = now or utcnow()
    body = (body or "").strip()
    if not body:
        raise FieldErrors([("body", Message(N_("请填写要发给学校的内容")))])
    if len(body) > MAX_MESSAGE_LENGTH:
        raise FieldErrors([("body", Message(N_("内容不能超过 %(n)s 字"), {"n": MAX_MESSAGE_LENGTH}))])
    message = DistrictMessage(district_id=district.id, school_id=school.id, sender_id=sender.id, body=body,
                              created_at=now)
    session.add(message)
    session.flush()
    one_line = " ".join(body.split())
    preview = one_line if len(one_line) <= SMS_PREVIEW_LENGTH else one_line[:SMS_PREVIEW_LENGTH] + "…"
    admins = session.scalars(select(StaffUser).where(
        StaffUser.school_id == school.id, StaffUser.role == Role.SCHOOL_ADMIN.value, StaffUser.is_active,
        StaffUser.phone.is_not(None)).order_by(StaffUser.id))
    texted = 0
    for admin in admins:
        queue_sms(session, phone=admin.phone, template="district_message", kind=MessageKind.NOTICE,
                  params={"district": district.name, "preview": preview, "link": public_url(session, "/admin/")},
                  school_id=school.id, created_by_id=sender.id, now=now)
        texted += 1
    audit(session, actor, "district.message_sent", school_id=school.id, target=message, at=now,
          detail={"district_id": district.id, "texted": texted})
    session.flush()
    return message


def messages_to_school(session: Session, school_id: int, limit: int = 20) -> list[DistrictMessage]:
    """The newest messages supervisors left for the school."""
    return list(session.scalars(
        select(DistrictMessage).options(joinedload(DistrictMessage.sender), joinedload(DistrictMessage.district))
        .where(DistrictMessage.school_id == school_id)
        .order_by(DistrictMessage.created_at.desc(), DistrictMessage.id.desc()).limit(limit)))


def mark_read(session: Session, school_id: int, reader: StaffUser, *, now: datetime | None = None) -> int:
    """The school admin opened the messages: the unread ones are marked read (one conditional UPDATE)."""
    return session.execute(
        update(DistrictMessage)
        .where(DistrictMessage.school_id == school_id, DistrictMessage.read_at.is_(None))
        .values(read_at=now or utcnow(), read_by_id=reader.id)
        .execution_options(synchronize_session=False)
    ).rowcount
