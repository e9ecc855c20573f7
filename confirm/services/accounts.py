"""Logging in, and creating staff accounts."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, RecordedRefusal
from confirm.i18n import N_, Message
from confirm.models import AuditEvent, ParentAccount, School, StaffUser, utcnow
from confirm.ports import Notifier
from confirm.security import hash_password, new_nonce, verify_password
from confirm.services import misuse
from confirm.services.common import Actor, audit, mask_phone
from confirm.services.registration import MIN_PASSWORD_LENGTH
from confirm.unit_of_work import after_commit

ROLES = ("head_teacher", "school_admin")
# At least one letter: an all-digit login is read as a parent's phone or platform number.
_USERNAME = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9_.-]{3,64}$")


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


def create_staff(
    session: Session,
    school: School,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    phone: str | None = None,
    actor: Actor,
) -> StaffUser:
    """Create a head-teacher or admin account of ``school``."""
    errors = []
    username = username.strip()
    if not _USERNAME.match(username):
        errors.append(("username", Message(N_("用户名为 3–64 位字母、数字、下划线、点或短横线，且至少包含一个字母"))))
    elif session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        errors.append(("username", Message(N_("用户名已被使用"))))
    if not display_name.strip():
        errors.append(("display_name", Message(N_("请填写姓名"))))
    if role not in ROLES:
        errors.append(("role", Message(N_("角色无效"))))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(("password", Message(N_("密码至少 %(n)s 位"), {"n": MIN_PASSWORD_LENGTH})))
    if errors:
        raise FieldErrors(errors)
    user = StaffUser(
        school_id=school.id,
        username=username,
        display_name=display_name.strip(),
        role=role,
        phone=phone or None,
        password_hash=hash_password(password),
        session_nonce=new_nonce(),
        is_active=True,
    )
    session.add(user)
    session.flush()
    audit(session, actor, "staff.created", school_id=school.id, target=user, detail={"role": role})
    return user


def set_staff_phone(session: Session, school: School, staff_id: int | None, phone: str, *, actor: Actor,
                    notifier: Notifier | None = None) -> StaffUser:
    """Record a head teacher's mobile (used for step-up codes); it must be verified again by an SMS code."""
    from confirm.services.registration import clean_mobile

    staff = session.get(StaffUser, staff_id) if staff_id else None
    # Only head teachers' phones: an admin changing their own phone would move their own step-up codes.
    if staff is None or staff.school_id != school.id or staff.role != "head_teacher" or staff.id == actor.id:
        raise FieldErrors([("staff_id", Message(N_("请选择本校的老师")))])
    old_phone = staff.phone
    staff.phone = clean_mobile(phone)
    staff.phone_verified_at = None
    audit(session, actor, "staff.phone_set", school_id=school.id, target=staff,
          detail={"old": mask_phone(old_phone) if old_phone else None, "new": mask_phone(staff.phone)})
    if notifier is not None and old_phone and old_phone != staff.phone:
        text = "【学籍信息确认】学籍管理员更改了您账号登记的手机号。如果不是您本人要求的，请立即联系学校。"
        after_commit(session, lambda: notifier.send(old_phone, text))
    session.flush()
    return staff
