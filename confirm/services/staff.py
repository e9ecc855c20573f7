"""Staff accounts: creating head teachers and admins, recording a head teacher's mobile, and the admin's part in a
teacher's account life — a temporary password by SMS, deactivation and reactivation.

A new or reset account chooses its own password at its first sign-in (``must_change_password``); deactivating an
account ends its sessions at once and keeps everything it did (its classes keep it as their head teacher until the
admin assigns another); a school always keeps one active admin.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors
from confirm.i18n import N_, Message
from confirm.models import School, StaffUser
from confirm.passwords import facts_of, password_problem
from confirm.roles import STAFF_ROLES, Role
from confirm.security import hash_password, new_nonce, new_temporary_password
from confirm.services.common import Actor, audit, mask_phone
from confirm.services.outbox import queue_sms
from confirm.services.sessions import end_all_sessions
from confirm.states import MessageKind
from confirm.validation import mobile_number

# At least one letter: an all-digit login is read as a parent's phone or platform number.
_USERNAME = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9_.-]{3,64}$")


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
    if role not in STAFF_ROLES:
        errors.append(("role", Message(N_("角色无效"))))
    # The phone receives step-up codes: stored as the 11 digits, however it was typed (full-width, in groups).
    mobile = mobile_number(phone) if phone and phone.strip() else None
    if phone and phone.strip() and mobile is None:
        errors.append(("phone", Message(N_("请输入正确的 11 位手机号码"))))
    problem = password_problem(password, facts_of(phones=[mobile or phone], numbers=[username]))
    if problem is not None:
        errors.append(("password", problem))
    if errors:
        raise FieldErrors(errors)
    user = StaffUser(
        school_id=school.id,
        username=username,
        display_name=display_name.strip(),
        role=role,
        phone=mobile,
        password_hash=hash_password(password),
        session_nonce=new_nonce(),
        is_active=True,
        must_change_password=True,  # the password was chosen by someone else
    )
    session.add(user)
    session.flush()
    audit(session, actor, "staff.created", school_id=school.id, target=user, detail={"role": role})
    return user


def set_staff_phone(session: Session, school: School, staff_id: int | None, phone: str, *, actor: Actor,
) -> StaffUser:
    """Record a head teacher's mobile (used for step-up codes); it must be verified again by an SMS code."""
    from confirm.services.registration import clean_mobile

    staff = session.get(StaffUser, staff_id) if staff_id else None
    # Only head teachers' phones: an admin changing their own phone would move their own step-up codes.
    if staff is None or staff.school_id != school.id or staff.role != Role.HEAD_TEACHER or staff.id == actor.id:
        raise FieldErrors([("staff_id", Message(N_("请选择本校的老师")))])
    old_phone = staff.phone
    staff.phone = clean_mobile(phone)
    staff.phone_verified_at = None
    audit(session, actor, "staff.phone_set", school_id=school.id, target=staff,
          detail={"old": mask_phone(old_phone) if old_phone else None, "new": mask_phone(staff.phone)})
    if old_phone and old_phone != staff.phone:
        queue_sms(session, phone=old_phone, template="staff_phone_changed", kind=MessageKind.NOTICE,
                  school_id=school.id)
    session.flush()
    return staff


def _school_staff(session: Session, school: School, staff_id: int | None) -> StaffUser:
    staff = session.get(StaffUser, staff_id) if staff_id else None
    if staff is None or staff.school_id != school.id:
        raise FieldErrors([("staff_id", Message(N_("请选择本校的老师")))])
    return staff


def reset_staff_password(session: Session, school: School, staff_id: int | None, *, actor: Actor,
                         now: datetime | None = None) -> StaffUser:
    """A temporary password for a teacher, by SMS to the teacher's phone; they set their own at the next sign-in.
    The admin never sees it; every session of the teacher ends."""
    staff = _school_staff(session, school, staff_id)
    if staff.id == actor.id:
        raise FieldErrors([("staff_id", Message(N_("请在“修改密码”中修改您自己的密码")))])
    if not staff.phone:
        raise FieldErrors([("staff_id", Message(N_("%(name)s 还没有登记手机号，临时密码无法发送。请先登记手机号"),
                                                {"name": staff.display_name}))])
    password = new_temporary_password()
    staff.password_hash = hash_password(password)
    staff.must_change_password = True
    end_all_sessions(staff)
    audit(session, actor, "staff.password_reset", school_id=school.id, target=staff, at=now,
          detail={"phone": mask_phone(staff.phone)})
    queue_sms(session, phone=staff.phone, template="temporary_password_staff", kind=MessageKind.PASSWORD,
              secret=password, params={"username": staff.username}, school_id=school.id, now=now)
    session.flush()
    return staff


def set_staff_active(session: Session, school: School, staff_id: int | None, active: bool, *, actor: Actor,
                     now: datetime | None = None) -> StaffUser:
    """Deactivate (sessions end, sign-in refused, history kept) or reactivate a staff account of the school."""
    staff = _school_staff(session, school, staff_id)
    if staff.is_active == active:
        return staff  # already so: a repeated click changes nothing
    if not active:
        if staff.id == actor.id:
            raise FieldErrors([("staff_id", Message(N_("不能停用您自己的账号")))])
        if staff.role == Role.SCHOOL_ADMIN and _active_admins(session, school) <= 1:
            raise FieldErrors([("staff_id", Message(N_("这是本校唯一在用的学籍管理员账号，不能停用")))])
        end_all_sessions(staff)
    staff.is_active = active
    audit(session, actor, "staff.reactivated" if active else "staff.deactivated", school_id=school.id,
          target=staff, at=now)
    session.flush()
    return staff


def _active_admins(session: Session, school: School) -> int:
    return session.scalar(select(func.count()).select_from(StaffUser).where(
        StaffUser.school_id == school.id, StaffUser.role == Role.SCHOOL_ADMIN, StaffUser.is_active)) or 0


def school_staff(session: Session, school: School) -> list[StaffUser]:
    """Every staff account of the school: active ones first, then by role and name."""
    return list(session.scalars(select(StaffUser).where(StaffUser.school_id == school.id).order_by(
        StaffUser.is_active.desc(), StaffUser.role, StaffUser.display_name)))
