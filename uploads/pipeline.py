"""The whole intake of one photo: sanitise, check quality, read the sheet's QR code — one verdict.

Used by the web upload and by ``flask --app webapp check-photo``, so both say exactly the same. The file is
decoded once (uploads/intake.py); the checks and the QR reader share its greyscale copy. A photo the parent
must retake anyway (too small, too dark, washed out) is not searched for a QR code; every other step's work is
bounded in advance, so the verdict does not depend on how busy the machine is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confirm.i18n import Message
from confirm.sheets import InvalidSheetCode, check_sheet_for, looks_like_sheet_payload, parse_sheet_payload
from uploads.intake import SanitizedImage, sanitize_image
from uploads.qr import find_qr
from uploads.quality import QualityReport, assess


@dataclass(frozen=True)
class SheetExpectation:
    """Whose sheet the photo should show, and whether a QR code is required (sheets printed by us)."""

    student_id: int
    campaign_id: int
    current_version: int
    required: bool
    for_staff: bool = False  # a head teacher uploads it: reasons are worded for the teacher, not the parent


@dataclass
class Verdict:
    """Everything the intake found; ``reasons`` empty means the photo is accepted."""

    image: SanitizedImage
    quality: QualityReport
    qr: str | None = None
    qr_method: str = ""
    reasons: list[Message] = field(default_factory=list)

    @property
    def is_accepted(self) -> bool:
        return not self.reasons

    def figures(self) -> dict:
        """What is recorded with the stored file."""
        return {"brightness": round(self.quality.brightness, 1), "contrast": round(self.quality.contrast, 1),
                "sharpness": round(self.quality.sharpness, 1), "qr": bool(self.qr), "qr_method": self.qr_method,
                "original": [self.image.original_width, self.image.original_height]}


def examine(data: bytes, *, sheet_key: bytes | None = None, expect: SheetExpectation | None = None,
            read_qr: bool = True) -> Verdict:
    """Sanitise ``data`` (raises IntakeError when it is no usable photo) and judge it."""
    image = sanitize_image(data)
    quality = assess(image.image, original_size=(image.original_width, image.original_height))
    verdict = Verdict(image, quality, reasons=list(quality.reasons))
    if not read_qr:
        return verdict
    if quality.is_unusable:  # it must be taken again whatever it shows: no QR search
        verdict.qr_method = "skipped"
        return verdict
    found = find_qr(image.image, is_blurred=quality.is_blurred, is_ours=_is_ours(sheet_key))
    verdict.qr, verdict.qr_method = found.text, found.method
    if expect is None or sheet_key is None:
        return verdict
    if found.text is None:
        if expect.required:
            verdict.reasons.append(check_sheet_for(None, student_id=expect.student_id,
                                                   campaign_id=expect.campaign_id,
                                                   current_version=expect.current_version,
                                                   for_staff=expect.for_staff))
        return verdict
    try:
        ref = parse_sheet_payload(sheet_key, found.text)
    except InvalidSheetCode as error:
        if expect.required:  # some other QR code (a poster, a WeChat code) only matters when ours is required
            verdict.reasons.append(error.message)
        return verdict
    reason = check_sheet_for(ref, student_id=expect.student_id, campaign_id=expect.campaign_id,
                             current_version=expect.current_version, for_staff=expect.for_staff)
    if reason is not None:  # our own sheet, but the wrong one: always a reason to retake
        verdict.reasons.append(reason)
    return verdict


def _is_ours(sheet_key: bytes | None):
    """Which decoded text is our sheet's code: signed with ``sheet_key`` when we have it, else shaped like one.

    A photo may show two codes (a WeChat group's poster on the sheet): ours is the one chosen.
    """
    if sheet_key is None:
        return looks_like_sheet_payload

    def is_ours(text: str) -> bool:
        try:
            parse_sheet_payload(sheet_key, text)
        except InvalidSheetCode:
            return False
        return True

    return is_ours
