"""The password policy (OWASP ASVS 5.0 §6.2), one function for every place a password is chosen.

At least 8 characters; not one of the ~20,000 most common passwords (``confirm/data/common-passwords.txt.gz``, see
the README beside it); not the user's own phone number, platform number or username, nor a child's birth date, and
not containing any of them. No composition rules (no "one digit, one capital"): they make passwords harder to
remember without making them harder to guess. Each refusal says why.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from confirm.errors import FieldErrors
from confirm.i18n import N_, Message

MIN_LENGTH = 8
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"


@dataclass(frozen=True)
class PersonalFacts:
    """What a guesser knows about the account (its phone, numbers, the children's birth dates)."""

    phones: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()  # platform number, username
    birth_dates: tuple[str, ...] = field(default=())  # as stored: YYYYMMDD or YYYY-MM-DD


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased (read once per process)."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def birth_date_forms(value: str) -> set[str]:
    """The ways a birth date is typed into a password: 20150315, 150315 and 0315."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) != 8:
        return set()
    return {digits, digits[2:], digits[4:]}


def password_problem(password: str, facts: PersonalFacts = PersonalFacts()) -> Message | None:
    """Why ``password`` may not be used, or None when it may."""
    if len(password) < MIN_LENGTH:
        return Message(N_("密码至少 %(n)s 位"), {"n": MIN_LENGTH})
    lowered = password.strip().lower()
    if lowered in common_passwords():
        return Message(N_("这个密码太常见，很容易被猜到，请换一个（例如几个词组成的一句话）"))
    if password.isdigit() and len(set(password)) <= 2:
        return Message(N_("密码过于简单，请换一个"))
    if any(phone and phone in password for phone in facts.phones):
        return Message(N_("密码不能包含您的手机号"))
    if any(number and number.lower() in lowered for number in facts.numbers):
        return Message(N_("密码不能包含您的平台号或用户名"))
    if any(form in password for date in facts.birth_dates for form in birth_date_forms(date)):
        return Message(N_("密码不能包含孩子的出生日期"))
    return None


def check_new_password(password: str, confirm: str | None = None, facts: PersonalFacts = PersonalFacts()) -> None:
    """Raise FieldErrors unless ``password`` follows the policy and (when ``confirm`` is given) was typed twice."""
    errors = []
    problem = password_problem(password, facts)
    if problem is not None:
        errors.append(("password", problem))
    if confirm is not None and password != confirm:
        errors.append(("password_confirm", Message(N_("两次输入的密码不一致"))))
    if errors:
        raise FieldErrors(errors)


def facts_of(*, phones: Iterable[str | None] = (), numbers: Iterable[str | None] = (),
             birth_dates: Iterable[str | None] = ()) -> PersonalFacts:
    """PersonalFacts without the empty values."""
    return PersonalFacts(tuple(p for p in phones if p), tuple(n for n in numbers if n),
                         tuple(d for d in birth_dates if d))


def facts_of_account(account, *, phone: str | None = None, students: Iterable = ()) -> PersonalFacts:
    """The PersonalFacts of a parent account or staff user: its phone, platform number or username, and the birth
    dates of the children linked to it (and of ``students`` about to be linked)."""
    linked = [g.student for g in getattr(account, "guardianships", None) or []] if account is not None else []
    return facts_of(phones=[phone, getattr(account, "phone", None)],
                    numbers=[getattr(account, "platform_no", None), getattr(account, "username", None)],
                    birth_dates=[s.value("birth_date") for s in [*linked, *students]])
