"""One-time SMS codes: hashed, single use, valid 10 minutes, at most 5 tries, rate-limited per phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, RecordedRefusal
from confirm.folding import fold_digits
from confirm.i18n import N_, Message
from confirm.models import SmsChallenge, utcnow
from confirm.security import constant_time_equal, keyed_hash, new_sms_code
from confirm.services.limits import (
    SMS_FROM_ADDRESS,
    SMS_FROM_SESSION,
    SMS_PER_SUBJECT_DAILY,
    SMS_TO_PHONE,
    SMS_TO_PHONE_DAILY,
    spend,
)
from confirm.services.outbox import queue_sms
from confirm.states import MessageKind

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
PARENT_TEMPLATE, STAFF_TEMPLATE = "code_parent", "code_staff"
STAFF_PURPOSES = frozenset({"stepup"})  # codes that staff receive: worded for a teacher, not a parent
NO_ACCOUNT = Message(N_("该手机号没有账号，未发送"))  # why a code was recorded but not sent


@dataclass(frozen=True)
class Requester:
    """Who asks for a code without being signed in: the client address and the browser session's id."""

    address: str | None = None
    session: str | None = None


def send_challenge(
    session: Session,
    *,
    phone: str,
    purpose: str,
    payload: dict[str, Any],
    key: bytes,
    now: datetime | None = None,
    subject: str | None = None,
    deliver: bool = True,
    school_id: int | None = None,
    requester: Requester | None = None,
    withheld_because: Message = NO_ACCOUNT,
) -> SmsChallenge:
    """Create a code for ``phone`` and queue it in the outbox (it is sent once the transaction commits).

    ``requester`` (anonymous steps) is limited per address and per session before anything of the phone's is
    spent; ``subject`` (e.g. ``staff:12``) adds a daily limit per actor on top of the per-phone one; with
    ``deliver=False`` the challenge and its message row are recorded all the same (so limits, answers and the time
    they take stay the same) but the message is never sent (the row says ``withheld_because``).
    """
    now = now or utcnow()
    if requester is not None:
        for limit, part in ((SMS_FROM_ADDRESS, requester.address), (SMS_FROM_SESSION, requester.session)):
            if part and not spend(session, limit, part, key=key, now=now).is_within:
                raise RecordedRefusal([("", Message(N_("获取验证码的次数过多，请 1 小时后再试")))])
    # Counted atomically (parallel requests queue on the counter): of ten taps at once, one code goes out. Each
    # purpose has its own pool, so strangers asking reset codes for a teacher's phone never use up the teacher's
    # step-up codes (asked for when signed in), nor a parent's registration codes. Refusals are committed
    # (RecordedRefusal): a requester's refused asks count against it.
    pool = purpose
    minute = spend(session, SMS_TO_PHONE, pool, phone, key=key, now=now)
    if not minute.is_within:
        raise RecordedRefusal([("", Message(N_("验证码发送过于频繁，请 %(seconds)s 秒后再试"),
                                            {"seconds": minute.wait_seconds(now)}))])
    if not spend(session, SMS_TO_PHONE_DAILY, pool, phone, key=key, now=now).is_within:
        raise RecordedRefusal([("", Message(N_("该手机号今天获取验证码的次数已达上限，请明天再试或联系班主任")))])
    if subject is not None and not spend(session, SMS_PER_SUBJECT_DAILY, subject, key=key, now=now).is_within:
        raise RecordedRefusal([("", Message(N_("今天获取验证码的次数已达上限，请明天再试")))])
    code = new_sms_code()
    challenge = SmsChallenge(
        phone=phone,
        purpose=purpose,
        code_hash=keyed_hash(key, f"{purpose}:{code}"),
        payload=payload,
        subject=subject,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(challenge)
    session.flush()
    queue_sms(session, phone=phone, template=STAFF_TEMPLATE if purpose in STAFF_PURPOSES else PARENT_TEMPLATE,
              kind=MessageKind.CODE, secret=code, school_id=school_id, now=now,
              unsent_because=None if deliver else withheld_because)
    return challenge


def verify_challenge(
    session: Session,
    challenge_id: int | None,
    code: str,
    *,
    purpose: str,
    key: bytes,
    now: datetime | None = None,
) -> SmsChallenge:
    """Consume the challenge if ``code`` is right; otherwise count the try and raise FieldErrors."""
    now = now or utcnow()
    challenge = session.get(SmsChallenge, challenge_id) if challenge_id else None
    if challenge is None or challenge.purpose != purpose or challenge.used_at is not None:
        raise FieldErrors([("sms_code", Message(N_("验证码已失效，请重新获取")))])
    if challenge.expires_at < now:
        raise FieldErrors([("sms_code", Message(N_("验证码已过期（10 分钟内有效），请重新获取")))])
    # Count this try before looking at the code, in one conditional UPDATE: requests sent in parallel cannot
    # share a count, so no more than MAX_ATTEMPTS guesses are ever compared for one code.
    counted = session.execute(
        update(SmsChallenge)
        .where(SmsChallenge.id == challenge.id, SmsChallenge.used_at.is_(None),
               SmsChallenge.attempts < MAX_ATTEMPTS)
        .values(attempts=SmsChallenge.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(challenge, ["attempts", "used_at"])
    if counted != 1:
        if challenge.used_at is not None:
            raise FieldErrors([("sms_code", Message(N_("验证码已失效，请重新获取")))])
        raise FieldErrors([("sms_code", Message(N_("验证码错误次数过多，请重新获取")))])
    if not constant_time_equal(challenge.code_hash, keyed_hash(key, f"{purpose}:{fold_digits(code)}")):
        left = MAX_ATTEMPTS - challenge.attempts
        if left <= 0:
            raise RecordedRefusal([("sms_code", Message(N_("验证码错误次数过多，请重新获取")))])
        raise RecordedRefusal([("sms_code", Message(N_("验证码不正确，还可以尝试 %(left)s 次"), {"left": left}))])
    consumed = session.execute(
        update(SmsChallenge)
        .where(SmsChallenge.id == challenge.id, SmsChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(challenge, ["used_at"])
    if consumed != 1:  # used by a parallel request a moment ago
        raise FieldErrors([("sms_code", Message(N_("验证码已失效，请重新获取")))])
    return challenge


def resend_challenge(
    session: Session, challenge_id: int | None, *, purpose: str, key: bytes, now: datetime | None = None,
    requester: Requester | None = None,
) -> SmsChallenge:
    """A new code for the same phone and the same pending step (the same limits apply as for the first one)."""
    old = session.get(SmsChallenge, challenge_id) if challenge_id else None
    if old is None or old.purpose != purpose or old.used_at is not None:
        raise FieldErrors([("", Message(N_("这一步已经失效，请从头开始")))])
    return send_challenge(session, phone=old.phone, purpose=purpose, payload=dict(old.payload or {}), key=key,
                          now=now, subject=old.subject, school_id=(old.payload or {}).get("school_id"),
                          requester=requester)
