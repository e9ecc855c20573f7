"""Staff accounts: creating head teachers and admins, recording a head teacher's mobile."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors
from confirm.i18n import N_, Message
from confirm.models import School, StaffUser
from confirm.roles import STAFF_ROLES, Role
from confirm.security import hash_password, new_nonce
from confirm.services.common import Actor, audit, mask_phone
from confirm.services.outbox import queue_sms
from confirm.services.registration import MIN_PASSWORD_LENGTH
from confirm.states import MessageKind

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
