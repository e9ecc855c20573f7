"""Account help: a head teacher resets a registration code or a parent's password; a parent resets their own.

The teacher's actions need step-up verification first (checked by the web layer); each is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, RecordedRefusal
from confirm.folding import fold_digits
from confirm.i18n import N_, Message
from confirm.models import Guardianship, ParentAccount, StaffUser, Student, utcnow
from confirm.passwords import check_new_password, facts_of_account
from confirm.security import hash_password, new_temporary_password, verify_password
from confirm.services.common import Actor, audit, mask_phone
from confirm.services.login import check_password_again
from confirm.services.outbox import queue_sms
from confirm.services.registration import clean_mobile, existing_account, issue_code
from confirm.services.sessions import end_all_sessions, kind_of
from confirm.services.sms_codes import Requester, send_challenge, verify_challenge
from confirm.states import MessageKind

PASSWORD_RESET = "pwreset"


@dataclass(frozen=True)
class CodeReset:
    """The new code (shown once) and the parent accounts that were unlinked from the student."""

    code: str
    unlinked: list[ParentAccount]


def reset_registration_code(session: Session, student: Student, *, reason: str, key: bytes, actor: Actor,
                            now: datetime | None = None) -> CodeReset:
    """Revoke the student's codes, unlink parents who registered with them, and issue a new code."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise FieldErrors([("reason", Message(N_("请填写重置原因")))])
    # Every account linked to the student goes — also one registered through an invitation link (no code):
    # the teacher resets because someone who should not be linked is.
    links = list(session.scalars(select(Guardianship).where(Guardianship.student_id == student.id)))
    unlinked = []
    for link in links:
        parent = link.parent
        unlinked.append(parent)
        audit(session, actor, "guardianship.removed", school_id=student.school_id, target=student, at=now,
              detail={"parent_id": parent.id, "platform_no": parent.platform_no, "reason": reason})
        session.delete(link)
        end_all_sessions(parent)  # whoever was signed in as that family is out at once
        queue_sms(session, phone=parent.phone, template="code_reset", params={"student_name": student.name},
                  kind=MessageKind.NOTICE, school_id=student.school_id, student_id=student.id, parent_id=parent.id,
                  now=now)
    session.flush()
    code = issue_code(session, student, key=key, actor=actor, now=now)
    audit(session, actor, "registration_code.reset", school_id=student.school_id, target=student, at=now,
          detail={"reason": reason, "unlinked_parent_ids": [p.id for p in unlinked]})
    session.flush()
    return CodeReset(code, unlinked)


def _set_password(account: ParentAccount | StaffUser, password: str, *, must_change: bool) -> None:
    account.password_hash = hash_password(password)
    account.must_change_password = must_change
    end_all_sessions(account)


def reset_parent_password(session: Session, *, platform_no: str, phone: str, class_ids: list[int],
                          school_id: int, actor: Actor, now: datetime | None = None) -> str:
    """Give the parent with both ``platform_no`` and ``phone`` a temporary password (sent by SMS, returned once).

    The account must be linked to a student of ``class_ids``; otherwise the refusal is audited.
    """
    now = now or utcnow()
    mismatch = FieldErrors([("", Message(N_("平台号和手机号不属于同一个家长账号，请核对后重新输入")))])
    try:
        phone = clean_mobile(phone)
    except FieldErrors:
        raise mismatch from None
    account = session.scalar(
        select(ParentAccount).where(ParentAccount.platform_no == fold_digits(platform_no), ParentAccount.phone == phone)
    )
    if account is None:
        raise mismatch
    student = session.scalar(
        select(Student).join(Guardianship, Guardianship.student_id == Student.id)
        .where(Guardianship.parent_id == account.id, Student.class_id.in_(class_ids)).limit(1)
    )
    if student is None:
        audit(session, actor, "parent_password.reset_refused", school_id=school_id, target=account, at=now,
              detail={"reason": "not a parent of the teacher's classes"})
        raise RecordedRefusal([("", Message(N_("该家长不是您班级学生的家长，不能重置密码")))])
    elsewhere = session.scalar(
        select(Student.id).join(Guardianship, Guardianship.student_id == Student.id)
        .where(Guardianship.parent_id == account.id, Student.class_id.not_in(class_ids)).limit(1)
    )
    if elsewhere is not None:
        # The temporary password is shown to the teacher: it must not open children of other classes.
        audit(session, actor, "parent_password.reset_refused", school_id=school_id, target=account, at=now,
              detail={"reason": "account also linked to students of other classes"})
        raise RecordedRefusal([("", Message(N_("这个家长账号还关联了其他班级的学生，请让家长用“忘记密码”自行重置，"
                                               "或请学籍管理员处理")))])
    password = new_temporary_password()
    _set_password(account, password, must_change=True)
    audit(session, actor, "parent_password.reset", school_id=student.school_id, target=account, at=now,
          detail={"student_id": student.id, "phone": mask_phone(account.phone)})
    queue_sms(session, phone=account.phone, template="temporary_password", kind=MessageKind.PASSWORD,
              secret=password, school_id=student.school_id, student_id=student.id, parent_id=account.id, now=now)
    session.flush()
    return password


def start_password_reset(session: Session, phone: str, *, key: bytes, now: datetime | None = None,
                         requester: Requester | None = None):
    """Send a reset code to ``phone`` when it has an account; the answer is the same when it has none."""
    phone = clean_mobile(phone)
    account = existing_account(session, phone)
    return send_challenge(session, phone=phone, purpose=PASSWORD_RESET,
                          payload={"parent_id": account.id if account else None}, key=key,
                          now=now, deliver=account is not None, requester=requester)


def complete_password_reset(session: Session, *, challenge_id: int | None, sms_code: str, password: str,
                            password_confirm: str, key: bytes, ip: str | None = None,
                            now: datetime | None = None) -> ParentAccount:
    """Set a new password after the SMS code to the bound phone is entered; ends every other session."""
    now = now or utcnow()
    check_new_password(password, password_confirm)  # before a code try is spent; the account's facts come next
    challenge = verify_challenge(session, challenge_id, sms_code, purpose=PASSWORD_RESET, key=key, now=now)
    account = session.get(ParentAccount, challenge.payload.get("parent_id") or 0)
    if account is None:  # no code was ever sent for a phone without an account, so this is not reached by guessing
        raise FieldErrors([("sms_code", Message(N_("验证码已失效，请重新获取")))])
    check_new_password(password, None, facts_of_account(account))  # refused: the rollback keeps the code usable
    _set_password(account, password, must_change=False)
    audit(session, Actor("parent", account.id, ip), "parent.password_reset_self", target=account, at=now)
    session.flush()
    return account


def change_password(session: Session, account: ParentAccount | StaffUser, *, current: str | None, password: str,
                    password_confirm: str, key: bytes, ip: str | None = None, now: datetime | None = None) -> None:
    """The user's own new password, also in place of a temporary one; every session of the account ends.

    ``current`` (the password in use) is checked unless it is None — the web layer passes None only when the user
    signed in or typed it moments ago. The new password must differ from the one in use (a temporary password
    cannot be kept).
    """
    now = now or utcnow()
    if current is not None:
        check_password_again(session, account, current, key=key, ip=ip, field="current_password", now=now)
    check_new_password(password, password_confirm, facts_of_account(account))
    if verify_password(account.password_hash, password):
        raise FieldErrors([("password", Message(N_("新密码不能与现在的密码相同")))])
    _set_password(account, password, must_change=False)
    kind = kind_of(account)
    audit(session, Actor(kind, account.id, ip), f"{kind}.password_changed", target=account, at=now,
          school_id=getattr(account, "school_id", None))
    session.flush()
