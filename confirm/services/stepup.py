"""Step-up verification: a fresh SMS code to the head teacher's own phone unlocks sensitive actions for a while.

Where the unlock is kept (the web session) is the web layer's business; this module sends and checks the codes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from confirm.errors import DomainError, FieldErrors
from confirm.i18n import N_, Message
from confirm.models import SmsChallenge, StaffUser, utcnow
from confirm.services.common import Actor, audit, mask_phone
from confirm.services.sms_codes import send_challenge, verify_challenge

PURPOSE = "stepup"
UNLOCK_FOR = timedelta(minutes=10)


def staff_subject(staff: StaffUser) -> str:
    """The SmsChallenge.subject that limits codes per teacher."""
    return f"staff:{staff.id}"


def send_stepup_code(session: Session, staff: StaffUser, *, key: bytes, actor: Actor,
                     now: datetime | None = None) -> SmsChallenge:
    """Send a code to the teacher's own phone; a teacher without a phone on record is told to ask the admin."""
    if not staff.phone:
        raise DomainError(Message(N_("您的账号还没有登记手机号，无法进行短信验证。请联系学籍管理员为您登记手机号")))
    challenge = send_challenge(session, phone=staff.phone, purpose=PURPOSE, payload={"staff_id": staff.id}, key=key,
                               now=now, subject=staff_subject(staff), school_id=staff.school_id)
    audit(session, actor, "stepup.code_sent", school_id=staff.school_id, target=staff, at=now,
          detail={"phone": mask_phone(staff.phone)})
    return challenge


def verify_stepup_code(session: Session, staff: StaffUser, challenge_id: int | None, code: str, *, key: bytes,
                       actor: Actor, now: datetime | None = None) -> datetime:
    """Check the code; returns until when sensitive actions are unlocked. Wrong tries are counted (commit them)."""
    now = now or utcnow()
    challenge = session.get(SmsChallenge, challenge_id) if challenge_id else None
    if challenge is None or challenge.subject != staff_subject(staff) or challenge.phone != staff.phone:
        raise FieldErrors([("sms_code", Message(N_("验证码已失效，请重新获取")))])
    verify_challenge(session, challenge.id, code, purpose=PURPOSE, key=key, now=now)
    if staff.phone_verified_at is None:
        staff.phone_verified_at = now
    audit(session, actor, "stepup.verified", school_id=staff.school_id, target=staff, at=now)
    session.flush()
    return now + UNLOCK_FOR
