"""Logging in: parents by platform number or phone, staff by username; failed tries counted and locked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import RecordedRefusal
from confirm.i18n import N_, Message
from confirm.models import AuditEvent, ParentAccount, StaffUser, utcnow
from confirm.security import verify_password
from confirm.services import misuse
from confirm.services.common import Actor, audit


class AccountLocked(RecordedRefusal):
    """The parent account is locked after a burst of failed logins (the refusal is audited, so commit it)."""

    def __init__(self, message: Message):
        super().__init__([("", message)])


def authenticate(
    session: Session, login: str, password: str, *, ip: str | None = None, now: datetime | None = None
) -> ParentAccount | StaffUser | None:
    """The account for ``login`` (platform number, parent phone or staff username) if the password fits.

    Raises AccountLocked for a parent account locked after a burst of failed logins.
    """
    now = now or utcnow()
    login = login.strip()
    account: ParentAccount | StaffUser | None
    if login.isdigit():
        column = ParentAccount.phone if len(login) == 11 else ParentAccount.platform_no
        account = session.scalar(select(ParentAccount).where(column == login))
        kind = "parent"
    else:
        account = session.scalar(select(StaffUser).where(StaffUser.username == login, StaffUser.is_active))
        kind = "staff"
    is_right = verify_password(account.password_hash if account else None, password)  # always costs the same
    if isinstance(account, ParentAccount) and misuse.account_is_locked(account, now):
        audit(session, Actor(kind, account.id, ip), "login.refused_locked", at=now)
        raise AccountLocked(Message(N_("登录失败次数过多，账号已暂时锁定 15 分钟。如果不是您本人在尝试，请联系班主任")))
    if isinstance(account, StaffUser) and _staff_failures(session, account, now) >= misuse.LOGIN_MAX_FAILURES:
        audit(session, Actor(kind, account.id, ip), "login.refused_locked", school_id=account.school_id, at=now)
        raise AccountLocked(Message(
            N_("登录失败次数过多，账号已暂时锁定 15 分钟。如果不是您本人在尝试，请联系学籍管理员")))
    if not is_right or account is None:
        audit(session, Actor(kind, account.id if account else None, ip), "login.failed",
              school_id=getattr(account, "school_id", None), at=now)
        if isinstance(account, ParentAccount):
            misuse.record_login_failure(session, account, now=now)
        return None
    if isinstance(account, ParentAccount):
        misuse.record_login_success(account)
    account.last_login_at = now
    audit(session, Actor(kind, account.id, ip), "login.succeeded", school_id=getattr(account, "school_id", None),
          at=now)
    return account


def _staff_failures(session: Session, staff: StaffUser, now: datetime) -> int:
    """Failed logins of a staff account in the lock window since its last successful login (from the audit)."""
    since = now - misuse.LOGIN_WINDOW
    last_success = session.scalar(
        select(func.max(AuditEvent.at)).where(AuditEvent.action == "login.succeeded", AuditEvent.actor_kind == "staff",
                                              AuditEvent.actor_id == staff.id, AuditEvent.at > since))
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "login.failed", AuditEvent.actor_kind == "staff", AuditEvent.actor_id == staff.id,
            AuditEvent.at > (last_success or since)))
