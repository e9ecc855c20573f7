"""Stored objects and their rows: one row per object, recognised again by its SHA-256, never one without the other.

An upload records its object's key as pending (committed on its own, ``pending_objects``), writes the object, and
adds its row in a transaction that also deletes the pending record. If that transaction rolls back, the object is
deleted again (``on_rollback``); if even that fails — or the write itself failed, and might still land, as a write to
a paused S3 does when it resumes — the key is marked abandoned, and ``sweep-storage`` removes it. A process killed
in between leaves the pending record, which the sweep removes with its object once it is older than a safe age. So a
2xx answer means object and row both exist, and an error leaves no object that nothing accounts for. An object a
later change no longer needs is deleted only after that change commits.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from confirm.models import PendingObject, StoredFile, Student
from confirm.ports import ObjectStore, PhotoVerdict
from confirm.services.common import Actor
from confirm.storage_keys import new_object_key, thumbnail_key
from confirm.unit_of_work import PendingLedger, after_commit, ledger, on_rollback

log = logging.getLogger(__name__)


def put_object(session: Session, store: ObjectStore, key: str, data: bytes, content_type: str) -> str:
    """Store ``data`` under ``key`` for a row of this transaction: recorded as pending first, the record settled by
    this transaction's commit, the object deleted again if the transaction rolls back."""
    pending = ledger(session)
    if pending is not None:
        pending.hold(session, key)
    try:
        store.put(key, data, content_type)
    except Exception:
        if pending is not None:  # a write that timed out may still land: no row will ever claim it
            on_rollback(session, lambda: pending.abandon(key))
        raise
    on_rollback(session, lambda: delete_quietly(store, key, pending, release=True))
    session.execute(delete(PendingObject).where(PendingObject.key == key))  # gone with this transaction's commit
    return key


def delete_after_commit(session: Session, store: ObjectStore, key: str | None) -> None:
    """Delete ``key`` once this transaction commits (an object the new state no longer refers to)."""
    if key:
        pending = ledger(session)
        after_commit(session, lambda: delete_quietly(store, key, pending))


def delete_quietly(store: ObjectStore, key: str, pending: PendingLedger | None = None, *,
                   release: bool = False) -> None:
    """Delete ``key`` (and, with ``release``, its pending record); when storage refuses, mark it abandoned so
    ``sweep-storage`` removes it at its next run."""
    try:
        store.delete(key)
    except Exception as exc:
        log.warning("could not delete %s (%s); sweep-storage will remove it", key, type(exc).__name__)
        if pending is not None:
            pending.abandon(key)
        return
    if release and pending is not None:
        pending.release(key)


def find_duplicate(session: Session, student: Student, kind: str, sha256: str) -> StoredFile | None:
    """The same image already stored for this student, if any (then it is not stored twice)."""
    return session.scalar(
        select(StoredFile).where(
            StoredFile.student_id == student.id, StoredFile.kind == kind, StoredFile.sha256 == sha256
        )
    )


def record_file(
    session: Session, student: Student, *, kind: str, storage_key: str, sha256: str, content_type: str,
    size_bytes: int, width: int | None, height: int | None, actor: Actor, thumbnail_key: str | None = None,
    quality: dict | None = None,
) -> StoredFile:
    """Add the row for an object that was just stored."""
    stored = StoredFile(
        school_id=student.school_id, student_id=student.id, kind=kind, storage_key=storage_key,
        thumbnail_key=thumbnail_key, sha256=sha256, content_type=content_type, size_bytes=size_bytes, width=width,
        height=height, quality=quality or {}, uploaded_by_kind=actor.kind, uploaded_by_id=actor.id or 0,
    )
    session.add(stored)
    session.flush()
    return stored


def store_photo(
    session: Session, store: ObjectStore, student: Student, verdict: PhotoVerdict, *, kind: str, actor: Actor,
    extra_quality: dict | None = None,
) -> StoredFile:
    """Store the sanitised photo and its thumbnail for ``student`` and add their row (flushed, not committed).

    The same photo again for the same student is not stored twice: its existing row is returned.
    """
    image = verdict.image
    stored = find_duplicate(session, student, kind, image.sha256)
    if stored is not None:
        return stored
    key = new_object_key(kind, student.school_id)
    put_object(session, store, key, image.data, image.content_type)
    thumb = put_object(session, store, thumbnail_key(key), image.thumbnail, image.content_type)
    return record_file(session, student, kind=kind, storage_key=key, thumbnail_key=thumb, sha256=image.sha256,
                       content_type=image.content_type, size_bytes=len(image.data), width=image.width,
                       height=image.height, quality={**verdict.figures(), **(extra_quality or {})}, actor=actor)
