"""Which student, campaign and sheet version a printed 学籍信息确认表 belongs to, as a short signed QR payload.

The payload is ``XJ1-SSSSS-CCCC-VVV-MMMMMMMMMM`` (29 characters): the format tag, the student id, campaign id and sheet
version in zero-padded base 36 (five, four and three digits cover ids up to 60 million, 1.6 million and
46,655 — a larger id simply gets more digits), and a ten-digit base-36 HMAC (≈ 51.7 bits) so a sheet cannot be
made up or edited. Only 0-9, A-Z and "-" occur, so the QR code uses alphanumeric mode: 29 characters fit a
version-2 symbol (25 × 25 modules) even at error-correction level Q, which keeps the modules large when the code
is small in a phone photo.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from confirm.errors import DomainError
from confirm.i18n import N_, Message
from confirm.security import keyed_hash

PREFIX = "XJ1"
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_WIDTHS = (5, 4, 3)  # student, campaign, version: minimum digits, so realistic sheets all have one length
_MAC_DIGITS = 10
_PAYLOAD = re.compile(r"XJ1-([0-9A-Z]{5,9})-([0-9A-Z]{4,9})-([0-9A-Z]{3,9})-([0-9A-Z]{10})")


class InvalidSheetCode(DomainError):
    """A QR code that is not one of our sheet codes, or whose checksum does not match."""


@dataclass(frozen=True)
class SheetRef:
    """The printed sheet a QR code names: whose it is, for which campaign, and which printing."""

    student_id: int
    campaign_id: int
    version: int


def _base36(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
    return digits.rjust(width, "0")


def _mac(key: bytes, ref: SheetRef) -> str:
    # A tag of its own inside the hashed text, so this HMAC can never equal one made for another purpose.
    digest = keyed_hash(key, f"sheet-qr/1:{ref.student_id}:{ref.campaign_id}:{ref.version}")
    return _base36(int(digest, 16) % 36**_MAC_DIGITS, _MAC_DIGITS)


def make_sheet_payload(key: bytes, ref: SheetRef) -> str:
    """The text to print on the sheet as its QR code, e.g. ``XJ1-02N9C-0016-003-…`` for student 123456."""
    fields = (ref.student_id, ref.campaign_id, ref.version)
    if any(not isinstance(value, int) or value < 0 for value in fields):
        raise ValueError(f"sheet ids must be non-negative integers: {ref!r}")
    body = "-".join(_base36(value, width) for value, width in zip(fields, _WIDTHS, strict=True))
    return f"{PREFIX}-{body}-{_mac(key, ref)}"


def looks_like_sheet_payload(text: str) -> bool:
    """Whether ``text`` has the shape of our sheet code (its checksum is not checked: see parse_sheet_payload)."""
    return _PAYLOAD.fullmatch(text.strip().upper()) is not None


def parse_sheet_payload(key: bytes, text: str) -> SheetRef:
    """The sheet named by a decoded QR text; raises InvalidSheetCode when it is not ours or was altered."""
    code = text.strip().upper()
    match = _PAYLOAD.fullmatch(code)
    if match is None:
        raise InvalidSheetCode(Message(N_("照片中的二维码不是本平台确认表上的二维码，请拍摄班主任发放的确认表")))
    student, campaign, version, _ = match.groups()
    ref = SheetRef(int(student, 36), int(campaign, 36), int(version, 36))
    # The whole code against the one we would print: checks the HMAC, and admits only one spelling per sheet.
    if not hmac.compare_digest(code, make_sheet_payload(key, ref)):
        raise InvalidSheetCode(Message(N_("确认表上的二维码校验失败，请使用班主任发放的原始确认表")))
    return ref


def check_sheet_for(
    ref: SheetRef | None, *, student_id: int, campaign_id: int, current_version: int, for_staff: bool = False
) -> Message | None:
    """Why a photographed sheet cannot count for this student's current sheet, or None when it can; worded for the
    parent, or with ``for_staff`` for the head teacher uploading it."""
    if ref is None:
        return Message(N_("没有找到确认表上的二维码，请把整张确认表拍进画面"))
    if ref.student_id != student_id:
        if for_staff:
            return Message(N_("这张确认表属于另一名学生，请核对拍照上传号，上传这名学生本人的确认表"))
        return Message(N_("这张确认表属于另一名学生，请上传您孩子本人的确认表"))
    if ref.campaign_id != campaign_id:
        return Message(N_("这是其他核查批次的确认表，请使用本次核查发放的确认表"))
    if ref.version < current_version:
        if for_staff:
            return Message(N_("这是旧版本的确认表：学籍信息已更新，请重新打印确认表，请家长签字后再上传"))
        return Message(N_("这是旧版本的确认表，请使用班主任最新发放的确认表"))
    if ref.version > current_version:
        if for_staff:
            return Message(N_("确认表的版本与系统记录不一致，请重新打印这名学生的确认表"))
        return Message(N_("确认表的版本与系统记录不一致，请联系班主任重新发放确认表"))
    return None

