"""Signed invitation links: one student, one campaign, unforgeable, useless once the campaign ends.

The link only opens registration for that student; the parent still proves the phone with an SMS code,
and the phone must be one of the student's guardians' phones on record.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from hashlib import sha256

from confirm.errors import DomainError
from confirm.i18n import N_, Message

_TOKEN = re.compile(r"^i1\.([0-9a-z]{1,8})\.([0-9a-z]{1,6})\.([0-9a-f]{24})$")


class InvalidInvitation(DomainError):
    """The link is malformed, altered, or no longer valid."""


@dataclass(frozen=True)
class Invitation:
    student_id: int
    campaign_id: int


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _mac(key: bytes, student: str, campaign: str) -> str:
    return hmac.new(key, f"invite:{student}.{campaign}".encode(), sha256).hexdigest()[:24]


def make_invitation_token(key: bytes, invitation: Invitation) -> str:
    """The token for a personal registration link, e.g. i1.3f.2.9c1e…"""
    student, campaign = _b36(invitation.student_id), _b36(invitation.campaign_id)
    return f"i1.{student}.{campaign}.{_mac(key, student, campaign)}"


def parse_invitation_token(key: bytes, token: str) -> Invitation:
    """The invitation a token stands for; raises InvalidInvitation for anything altered or malformed."""
    match = _TOKEN.fullmatch((token or "").strip())
    if match is None or not hmac.compare_digest(match.group(3), _mac(key, match.group(1), match.group(2))):
        raise InvalidInvitation(Message(N_("邀请链接无效，请使用短信中的完整链接，或向班主任索取注册码")))
    return Invitation(int(match.group(1), 36), int(match.group(2), 36))
