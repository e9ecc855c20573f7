"""Parent registration: registration code + child's name + phone → SMS code → account linked to the child."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from confirm.clock import local_today
from confirm.errors import DomainError, FieldErrors, RecordedRefusal
from confirm.i18n import N_, Message
from confirm.invitations import InvalidInvitation, parse_invitation_token
from confirm.models import Campaign, Guardianship, ParentAccount, RegistrationCode, Student, utcnow
from confirm.passwords import check_new_password, facts_of_account
from confirm.security import (
    hash_password,
    keyed_hash,
    new_nonce,
    new_registration_code,
    normalize_registration_code,
)
from confirm.services import misuse
from confirm.services.common import Actor, audit, unique_number
from confirm.services.limits import CODE_TRIES, CODES_ANYWHERE, CODES_FROM_ADDRESS, spend
from confirm.services.records import active_campaign
from confirm.services.sms_codes import Requester, send_challenge, verify_challenge
from confirm.validation import mobile_number, normalize_text

PURPOSE = "register"


@dataclass(frozen=True)
class RegistrationStart:
    """What the parent typed on the first registration step."""

    code: str
    student_name: str
    phone: str
    consent_version: str | None = None  # the privacy notice the guardian agreed to (None: not ticked)


def code_hash(key: bytes, code: str) -> str:
    """The stored form of a registration code."""
    return keyed_hash(key, "regcode:" + normalize_registration_code(code))


def consent_given(version: str | None, now: datetime) -> dict[str, str]:
    """The guardian's consent, kept with the pending registration; FieldErrors on ``consent`` without it."""
    if not version:
        raise FieldErrors([("consent", Message(N_("请阅读《个人信息保护说明》，并勾选同意后再继续")))])
    return {"version": version, "at": now.isoformat()}


def clean_mobile(raw: str) -> str:
    """A normalised mainland mobile number, or FieldErrors on the ``phone`` field."""
    mobile = mobile_number(raw)
    if mobile is None:
        raise FieldErrors([("phone", Message(N_("请输入正确的 11 位手机号码")))])
    return mobile


def issue_code(session: Session, student: Student, *, key: bytes, actor: Actor, now: datetime | None = None) -> str:
    """Revoke the student's unused codes and issue a new one; the plain code is returned once."""
    now = now or utcnow()
    # One working code per student (a unique index says so): parallel issues for one student take turns here.
    session.execute(select(Student.id).where(Student.id == student.id).with_for_update())
    session.execute(
        update(RegistrationCode)
        .where(RegistrationCode.student_id == student.id, RegistrationCode.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    while True:
        code = new_registration_code()
        digest = code_hash(key, code)
        if session.scalar(select(RegistrationCode.id).where(RegistrationCode.code_hash == digest)) is None:
            break
    session.add(RegistrationCode(student_id=student.id, code_hash=digest, issued_at=now, issued_by_id=actor.id))
    audit(session, actor, "registration_code.issued", school_id=student.school_id, target=student, at=now)
    return code


def start_registration(
    session: Session, data: RegistrationStart, *, key: bytes, ip: str | None = None, now: datetime | None = None,
    requester: Requester | None = None,
):
    """Check the code and the child's name, then send an SMS code to the phone. Returns the challenge.

    Every try is counted before anything is compared — per address and from everywhere (unknown codes too), and
    per code (a wrong child's name counts) — and the counts are kept (RecordedRefusal) when the try is refused.
    """
    now = now or utcnow()
    consent = consent_given(data.consent_version, now)
    phone = clean_mobile(data.phone)
    busy = Message(N_("尝试次数过多，请 %(minutes)s 分钟后再试"))
    for spent in (spend(session, CODES_FROM_ADDRESS, ip or "", key=key, now=now),
                  spend(session, CODES_ANYWHERE, "", key=key, now=now)):
        if not spent.is_within:
            raise RecordedRefusal([("code", Message(busy.text, {"minutes": max(1, spent.wait_seconds(now) // 60)}))])
    reg = session.scalar(
        select(RegistrationCode).where(
            RegistrationCode.code_hash == code_hash(key, data.code), RegistrationCode.revoked_at.is_(None)
        )
    )
    wrong = Message(N_("注册码或学生姓名不正确，请核对后重新输入"))  # one message: codes cannot be probed for names
    if reg is None:
        raise RecordedRefusal([("code", wrong)])
    tries = spend(session, CODE_TRIES, reg.id, key=key, now=now)
    if not tries.is_within:
        if tries.count == tries.limit.most + 1:
            misuse.flag_code_guessing(session, reg, tries=tries.count - 1, now=now)
        raise RecordedRefusal([("code", Message(N_(
            "该注册码输入错误次数过多，已暂时锁定 1 小时。请稍后再试或联系班主任")))])
    if normalize_text(data.student_name) != reg.student.name:
        raise RecordedRefusal([("code", wrong)])
    if reg.used_at is not None:
        raise FieldErrors(
            [("code", Message(N_("该注册码已被使用。如果不是您本人注册的，请联系班主任重置注册码")))]
        )
    misuse.check_code_phones(session, reg, phone, now=now)
    return send_challenge(
        session,
        phone=phone,
        purpose=PURPOSE,
        payload={"registration_code_id": reg.id, "student_id": reg.student_id, "school_id": reg.student.school_id,
                 "consent": consent},
        key=key,
        now=now,
        subject=misuse.code_subject(reg),
        school_id=reg.student.school_id,
        requester=requester,
    )


def invited_student(session: Session, token: str, *, key: bytes, now: datetime | None = None) -> Student:
    """The student an invitation link opens registration for; InvalidInvitation when the link is not valid now.

    The campaign in the link must be the school's running campaign and not past its deadline (China time).
    """
    now = now or utcnow()
    invitation = parse_invitation_token(key, token)
    student = session.get(Student, invitation.student_id)
    campaign = session.get(Campaign, invitation.campaign_id)
    if student is None or campaign is None or campaign.school_id != student.school_id:
        raise InvalidInvitation(Message(N_("邀请链接无效，请使用短信中的完整链接，或向班主任索取注册码")))
    current = active_campaign(session, student.school_id)
    if current is None or current.id != campaign.id or campaign.deadline < local_today(now):
        raise InvalidInvitation(Message(N_("邀请链接已过期（核查已结束），请向班主任索取注册码")))
    return student


def start_invited_registration(session: Session, token: str, phone: str, *, invite_key: bytes, key: bytes,
                               consent_version: str | None = None, now: datetime | None = None,
                               requester: Requester | None = None):
    """Registration from an invitation link: the code goes out only when the phone is a family member's phone on the
    student's record — and the answer, its limits and its work are the same when it is not (a link must not tell
    which phones are on a child's record)."""
    now = now or utcnow()
    student = invited_student(session, token, key=invite_key, now=now)
    consent = consent_given(consent_version, now)
    phone = clean_mobile(phone)
    on_record = phone in {m.value("phone") for m in student.members}
    return send_challenge(
        session,
        phone=phone,
        purpose=PURPOSE,
        payload={"registration_code_id": None, "student_id": student.id, "invitation": True,
                 "school_id": student.school_id, "on_record": on_record, "consent": consent},
        key=key,
        now=now,
        subject=f"invite:{student.id}",
        school_id=student.school_id,
        requester=requester,
        deliver=on_record,
        withheld_because=Message(N_("不是学籍中登记的家庭成员手机号，未发送")),
    )


def existing_account(session: Session, phone: str) -> ParentAccount | None:
    """The parent account already bound to ``phone``, if any."""
    return session.scalar(select(ParentAccount).where(ParentAccount.phone == phone))


def _new_account(session: Session, phone: str, password: str, now: datetime) -> tuple[ParentAccount, bool]:
    """A new account for ``phone`` — or, when a parallel registration made one a moment ago (the unique phone says
    so), that one: the child joins it as it would have had the request come a second later."""
    platform_no = unique_number(session, ParentAccount.platform_no, 8)
    while platform_no in password:  # the policy keeps the platform number out of the password; the parent cannot
        platform_no = unique_number(session, ParentAccount.platform_no, 8)  # know it yet, so pick another
    account = ParentAccount(phone=phone, platform_no=platform_no,
                            password_hash=hash_password(password), session_nonce=new_nonce(), created_at=now)
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        return session.scalar(select(ParentAccount).where(ParentAccount.phone == phone)), False
    return account, True


def complete_registration(
    session: Session,
    *,
    challenge_id: int | None,
    sms_code: str,
    password: str,
    password_confirm: str,
    key: bytes,
    ip: str | None = None,
    now: datetime | None = None,
) -> tuple[ParentAccount, Student, bool]:
    """Verify the SMS code, bind the code to the account and link the child.

    A phone that already has an account gets the child added to it (its password stays);
    otherwise a new account with a fresh platform number (平台号) is created.
    Returns (account, student, created).
    """
    now = now or utcnow()
    challenge = verify_challenge(session, challenge_id, sms_code, purpose=PURPOSE, key=key, now=now)
    if challenge.payload.get("on_record") is False:  # its code was never sent: no guess may register that phone
        raise FieldErrors([("sms_code", Message(N_("验证码已失效，请重新获取")))])
    consent = challenge.payload.get("consent")
    if not consent:  # a registration started before consent was asked (a code sent moments before an upgrade)
        raise FieldErrors([("", Message(N_("这一步已经失效，请从头开始")))])
    account = existing_account(session, challenge.phone)
    student = session.get_one(Student, challenge.payload["student_id"])
    if account is None:
        check_new_password(password, password_confirm,
                           facts_of_account(None, phone=challenge.phone, students=[student]))
    code_id = challenge.payload.get("registration_code_id")  # None: registration through an invitation link
    # Claim the code atomically: two parents racing with one code cannot both win.
    claimed = code_id is None or session.execute(
        update(RegistrationCode)
        .where(
            RegistrationCode.id == code_id,
            RegistrationCode.used_at.is_(None),
            RegistrationCode.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not claimed:
        raise DomainError(Message(N_("该注册码已被使用或已重置，请联系班主任")))
    created = account is None
    if account is None:
        account, created = _new_account(session, challenge.phone, password, now)
    if code_id is not None:
        session.execute(
            update(RegistrationCode).where(RegistrationCode.id == code_id).values(used_by_parent_id=account.id)
        )
    account.privacy_notice_version = consent["version"]
    account.privacy_consented_at = datetime.fromisoformat(consent["at"])
    link = session.scalar(
        select(Guardianship).where(Guardianship.parent_id == account.id, Guardianship.student_id == student.id)
    )
    if link is None:
        session.add(Guardianship(parent_id=account.id, student_id=student.id, registration_code_id=code_id,
                                 created_at=now))
    audit(
        session,
        Actor("parent", account.id, ip),
        "parent.registered" if created else "parent.linked_student",
        school_id=student.school_id,
        target=student,
        at=now,
        detail={"privacy_notice": consent["version"], **({"via": "invitation"} if code_id is None else {})},
    )
    session.flush()
    misuse.check_phone_spread(session, account, now=now)
    return account, student, created
