"""Reading an uploaded proof document: a photo is sanitised like any photo, a PDF is checked and kept as is."""

from __future__ import annotations

from confirm.services.proofs import ProofUpload
from uploads.intake import accept_proof_pdf, sanitize_image, sniff


def read_proof(data: bytes) -> ProofUpload:
    """A proof document ready to store (raises IntakeError for anything but a photo or a PDF)."""
    if sniff(data) == "PDF":
        document = accept_proof_pdf(data)
        return ProofUpload(document.data, document.sha256, document.content_type)
    image = sanitize_image(data)  # no sheet QR code or blur gate: a 户口簿 page is judged by the teacher
    return ProofUpload(image.data, image.sha256, image.content_type, thumbnail=image.thumbnail,
                       width=image.width, height=image.height)
