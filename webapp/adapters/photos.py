"""The photo intake (``uploads``) behind the domain's PhotoExaminer port."""

from __future__ import annotations

from confirm.errors import UnreadablePhoto
from confirm.models import Campaign, Student
from confirm.services.proofs import ProofUpload
from confirm.sheets import InvalidSheetCode, SheetRef, parse_sheet_payload
from uploads.intake import IntakeError, accept_proof_pdf, sanitize_image, sniff, unreadable_proof
from uploads.pipeline import SheetExpectation, Verdict, examine
from webapp.adapters.keys import sheet_key


class Examiner:
    """Sanitises and judges uploads with the app's sheet key."""

    def __init__(self, key: bytes):
        self.key = key

    def sheet_of(self, data: bytes, student: Student, campaign: Campaign, *,
                 qr_required: bool | None = None, for_staff: bool = False) -> Verdict:
        required = campaign.require_sheet_qr if qr_required is None else qr_required
        expect = SheetExpectation(student.id, campaign.id, student.record_version or 1, required, for_staff)
        return _readable(lambda: examine(data, sheet_key=self.key, expect=expect))

    def any_sheet(self, data: bytes) -> Verdict:
        # no expectation: the QR code says whose sheet it is (the key picks ours among several codes)
        return _readable(lambda: examine(data, sheet_key=self.key))

    def qr_of(self, verdict: Verdict) -> str | None:
        """The verdict's QR text; for a photo the gate refused unseen (too dark, too small), a look all the same —
        a teacher filing it anyway must not file another student's sheet."""
        if verdict.qr is None and verdict.qr_method == "skipped":
            from uploads.qr import find_qr

            return find_qr(verdict.image.image).text
        return verdict.qr

    def sheet_ref(self, qr: str | None) -> SheetRef | None:
        if not qr:
            return None
        try:
            return parse_sheet_payload(self.key, qr)
        except InvalidSheetCode:
            return None

    def proof(self, data: bytes) -> ProofUpload:
        return _readable(lambda: _proof(data))


def _proof(data: bytes) -> ProofUpload:
    kind = sniff(data)
    if kind == "PDF":
        document = accept_proof_pdf(data)
        return ProofUpload(document.data, document.sha256, document.content_type)
    if kind is None and data:  # an empty file is told as such by the photo intake
        raise unreadable_proof()
    image = sanitize_image(data)  # no sheet QR code or blur gate: a 户口簿 page is judged by the teacher
    return ProofUpload(image.data, image.sha256, image.content_type, thumbnail=image.thumbnail,
                       width=image.width, height=image.height)


def _readable(read):
    try:
        return read()
    except IntakeError as exc:
        raise UnreadablePhoto(exc.message) from None


def examiner() -> Examiner:
    """The photo intake for the current app."""
    return Examiner(sheet_key())
