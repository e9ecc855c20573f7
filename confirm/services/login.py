"""Logging in: parents by platform number or phone, staff by username.

Every try is counted before the password is looked at (``confirm.services.limits``): five per login name from one
address in 15 minutes, fifty tries of any names from one address in 15 minutes, ten per login name from anywhere in
a minute. A right password gives back the tries it spent once it has been checked (counted first, parallel guesses
sent beside it queue on the counters and never see a fresh count; only wrong ones stay counted). Past any limit, the
answer is the same whether or not the name has an account, and
it costs the same — nothing is verified. The owner, from another address, signs in at once however many tries one
attacker's address makes (its refused tries are not counted from everywhere), and within a minute of a burst from
many addresses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.errors import RecordedRefusal
from confirm.folding import fold_code, fold_digits
from confirm.i18n import N_, Message
from confirm.models import ParentAccount, StaffUser, utcnow
from confirm.security import verify_password
from confirm.services import misuse
from confirm.services.common import Actor, audit
from confirm.services.limits import LOGIN_ADDRESS_ALL, LOGIN_ANYWHERE, LOGIN_FROM_ADDRESS, spend
from confirm.validation import normalize_text


class LoginThrottled(RecordedRefusal):
    """Too many tries of this login name for now (the tries and the refusal are recorded, so commit them)."""

    def __init__(self, message: Message):
        super().__init__([("", message)])


def login_name(raw: str) -> str:
    """The login as typed, cleaned: full-width digits, letters and dashes folded, spaces dropped; a number typed in
    groups (``138-0013-8000``) loses its dashes too (usernames keep theirs)."""
    name = normalize_text(fold_code(raw)).replace(" ", "")
    digits = fold_digits(name)
    return digits if digits.isdigit() else name


def find_account(session: Session, name: str) -> ParentAccount | StaffUser | None:
    """The account a login name names: an 11-digit phone or a platform number (parents), else a staff username."""
    if name.isdigit():
        column = ParentAccount.phone if len(name) == 11 else ParentAccount.platform_no
        return session.scalar(select(ParentAccount).where(column == name))
    return session.scalar(select(StaffUser).where(StaffUser.username == name, StaffUser.is_active))


def authenticate(
    session: Session, login: str, password: str, *, key: bytes, ip: str | None = None, now: datetime | None = None
) -> ParentAccount | StaffUser | None:
    """The account for ``login`` if the password fits; None when it does not (or there is no such account).

    Raises LoginThrottled once the login name has been tried too often, from this address or from everywhere.
    """
    now = now or utcnow()
    name = login_name(login)
    account = find_account(session, name)
    kind = "parent" if name.isdigit() else "staff"
    # An account's tries count together however it is named (phone or platform number); any other name by itself.
    counted = f"{kind}:{account.id}" if account is not None else f"name:{name.lower()}"
    # Each limit is counted only while the ones before it allow the try: an address past its limits adds nothing
    # to the name's count from everywhere, so it cannot lock the owner out elsewhere.
    spent = []
    counters = ((LOGIN_FROM_ADDRESS, (counted, ip or "")), (LOGIN_ADDRESS_ALL, (ip or "",)),
                (LOGIN_ANYWHERE, (counted,)))
    for limit, parts in counters:
        spent.append(spend(session, limit, *parts, key=key, now=now))
        if not spent[-1].is_within:
            break
    who = Actor(kind, account.id if account else None, ip)
    school_id = getattr(account, "school_id", None)
    refused = spent[-1] if not spent[-1].is_within else None
    if refused is not None:
        audit(session, who, "login.refused_throttled", school_id=school_id, at=now,
              detail={"scope": refused.limit.name})
        here = spent[0]
        if isinstance(account, ParentAccount) and here.count == here.limit.most + 1:
            misuse.flag_login_burst(session, account, failures=here.count - 1, now=now)
        # The same words and the same figure whether or not the name has an account.
        raise LoginThrottled(Message(N_("登录尝试次数过多，请 %(minutes)s 分钟后再试，或用“忘记密码”重设密码"),
                                     {"minutes": max(1, round(refused.wait_seconds(now) / 60))}))
    is_right = verify_password(account.password_hash if account else None, password)  # always costs the same
    if not is_right or account is None:
        audit(session, who, "login.failed", school_id=school_id, at=now)
        return None
    # Only failures count: the right password gives back the tries it spent (counted first, so that parallel
    # guesses queue on the counters), or a parent signing in six times in a quarter of an hour would be locked out.
    for limit, parts in counters:
        spend(session, limit, *parts, key=key, now=now, amount=-1)
    account.last_login_at = now
    audit(session, who, "login.succeeded", school_id=school_id, at=now)
    return account


def check_password_again(session: Session, account: ParentAccount | StaffUser, password: str, *, key: bytes,
                         ip: str | None = None, field: str = "password", now: datetime | None = None) -> None:
    """The signed-in user types the current password again (before a sensitive step). Tries count with the
    account's sign-in tries from this address, so a stolen session cannot guess it either.

    Raises LoginThrottled past the limit and a RecordedRefusal on ``field`` when it is wrong.
    """
    now = now or utcnow()
    kind = "parent" if isinstance(account, ParentAccount) else "staff"
    here = spend(session, LOGIN_FROM_ADDRESS, f"{kind}:{account.id}", ip or "", key=key, now=now)
    who = Actor(kind, account.id, ip)
    school_id = getattr(account, "school_id", None)
    if not here.is_within:
        audit(session, who, "reauth.refused_throttled", school_id=school_id, at=now)
        raise LoginThrottled(Message(N_("密码输错次数过多，请 %(minutes)s 分钟后再试"),
                                     {"minutes": max(1, round(here.wait_seconds(now) / 60))}))
    if not verify_password(account.password_hash, password):
        audit(session, who, "reauth.failed", school_id=school_id, at=now)
        raise RecordedRefusal([(field, Message(N_("当前密码不正确")))])
    spend(session, LOGIN_FROM_ADDRESS, f"{kind}:{account.id}", ip or "", key=key, now=now, amount=-1)  # a right one
    audit(session, who, "reauth.succeeded", school_id=school_id, at=now)
