"""Records of stored objects: one row per object, recognised again by its SHA-256."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import StoredFile, Student
from confirm.services.common import Actor


def find_duplicate(session: Session, student: Student, kind: str, sha256: str) -> StoredFile | None:
    """The same image already stored for this student, if any (then it is not stored twice)."""
    return session.scalar(
        select(StoredFile).where(
            StoredFile.student_id == student.id, StoredFile.kind == kind, StoredFile.sha256 == sha256
        )
    )


def record_file(
    session: Session,
    student: Student,
    *,
    kind: str,
    storage_key: str,
    sha256: str,
    content_type: str,
    size_bytes: int,
    width: int | None,
    height: int | None,
    actor: Actor,
) -> StoredFile:
    """Add the row for an object that was just stored."""
    stored = StoredFile(
        school_id=student.school_id,
        student_id=student.id,
        kind=kind,
        storage_key=storage_key,
        sha256=sha256,
        content_type=content_type,
        size_bytes=size_bytes,
        width=width,
        height=height,
        uploaded_by_kind=actor.kind,
        uploaded_by_id=actor.id or 0,
    )
    session.add(stored)
    session.flush()
    return stored
