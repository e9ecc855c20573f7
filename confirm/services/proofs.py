"""Proof documents (户口簿 / 身份证 photos, PDFs) for key-data corrections, kept with the confirmation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, InvalidTransition
from confirm.i18n import N_, Message
from confirm.models import Confirmation, StoredFile
from confirm.ports import ObjectStore
from confirm.services.common import Actor, audit
from confirm.services.files import put_object
from confirm.states import EDITABLE_STATES, CorrectionStatus, State
from confirm.storage_keys import new_object_key, thumbnail_key

MAX_PROOFS = 10  # a 户口簿 needs its cover page and the child's page; more for the ID card, and a second round
KIND = "proof"


@dataclass(frozen=True)
class ProofUpload:
    """A proof document ready to store: a sanitised JPEG (with thumbnail) or a checked PDF."""

    data: bytes
    sha256: str
    content_type: str
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None

    @property
    def extension(self) -> str:
        return "pdf" if self.content_type == "application/pdf" else "jpg"


def needs_proof(confirmation: Confirmation) -> bool:
    """True when the confirmation asks to change key data (姓名, 性别, 出生日期, 民族, 证件类型, 证件号)."""
    return any(c.is_key_data for c in confirmation.corrections)


def proofs_of(session: Session, confirmation: Confirmation) -> list[StoredFile]:
    """The proof documents uploaded for ``confirmation``, oldest first."""
    return list(session.scalars(
        select(StoredFile)
        .where(StoredFile.confirmation_id == confirmation.id, StoredFile.kind == KIND)
        .order_by(StoredFile.created_at, StoredFile.id)
    ))


def proofs_by_confirmation(session: Session, confirmation_ids: Iterable[int]) -> dict[int, list[StoredFile]]:
    """Proof documents of many confirmations at once, keyed by confirmation id."""
    ids = list(set(confirmation_ids))
    found: dict[int, list[StoredFile]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = session.scalars(
        select(StoredFile)
        .where(StoredFile.confirmation_id.in_(ids), StoredFile.kind == KIND)
        .order_by(StoredFile.created_at, StoredFile.id)
    )
    for stored in rows:
        found[stored.confirmation_id].append(stored)
    return found


def has_proof(session: Session, confirmation: Confirmation) -> bool:
    """True when at least one proof document was uploaded for ``confirmation``."""
    return bool(session.scalar(
        select(func.count()).select_from(StoredFile)
        .where(StoredFile.confirmation_id == confirmation.id, StoredFile.kind == KIND)
    ))


def is_missing_proof(session: Session, confirmation: Confirmation) -> bool:
    """True when key data is to be corrected but no proof document was uploaded."""
    return needs_proof(confirmation) and not has_proof(session, confirmation)


def is_missing_among(confirmation: Confirmation, found: list[StoredFile]) -> bool:
    """``is_missing_proof`` for a page that has already loaded the confirmation's proofs (``proofs_of``)."""
    return needs_proof(confirmation) and not found


MISSING_PROOF = N_("关键信息的更正需要上传证明材料（户口簿或身份证的照片，或 PDF 文件），请先上传证明材料再提交")


def add_proof(
    session: Session, confirmation: Confirmation, upload: ProofUpload, *, store: ObjectStore, actor: Actor
) -> StoredFile:
    """Store a proof document for ``confirmation`` and record it; the same file twice is kept once. If the
    transaction does not commit, the stored objects are deleted again."""
    returned = any(c.status == CorrectionStatus.REJECTED for c in confirmation.corrections)
    if State(confirmation.state) not in EDITABLE_STATES and not returned:
        raise InvalidTransition(Message(N_("材料已提交，审核完成前不能再上传证明材料")))
    existing = proofs_of(session, confirmation)
    same = next((p for p in existing if p.sha256 == upload.sha256), None)
    if same is not None:
        return same
    if len(existing) >= MAX_PROOFS:
        raise FieldErrors([("proof", Message(N_("最多上传 %(n)s 份证明材料"), {"n": MAX_PROOFS}))])
    student = confirmation.student
    key = put_object(session, store, new_object_key(KIND, student.school_id, upload.extension), upload.data,
                     upload.content_type)
    thumb = None
    if upload.thumbnail:
        thumb = put_object(session, store, thumbnail_key(key), upload.thumbnail, "image/jpeg")
    stored = StoredFile(
        school_id=student.school_id, student_id=student.id, kind=KIND, storage_key=key, thumbnail_key=thumb,
        sha256=upload.sha256, content_type=upload.content_type, size_bytes=len(upload.data), width=upload.width,
        height=upload.height, confirmation_id=confirmation.id, uploaded_by_kind=actor.kind,
        uploaded_by_id=actor.id or 0,
    )
    session.add(stored)
    session.flush()
    audit(session, actor, "proof.added", school_id=student.school_id, target=confirmation,
          detail={"file_id": stored.id, "content_type": upload.content_type})
    session.flush()
    return stored
