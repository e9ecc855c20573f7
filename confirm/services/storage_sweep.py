"""Keeping object storage and the database consistent: orphaned objects go, missing objects are reported.

An upload stores its object first and commits its row second; when the commit fails the object is deleted
right away. If even that delete fails (or the process dies in between) an object without a row is left
behind. The sweep lists the store, removes such orphans once they are older than an hour (an upload in
flight has its row committed within seconds), and reports rows whose object is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import ImportRun, StoredFile
from confirm.ports import ObjectStore

MIN_AGE = timedelta(hours=1)
_CHUNK = 500


def utcnow() -> datetime:
    """The current time (a seam for tests)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class MissingObject:
    """A row that refers to an object the store does not have."""

    table: str
    row_id: int
    key: str


@dataclass
class SweepReport:
    """What one sweep found and did."""

    dry_run: bool
    objects: int = 0  # objects listed
    referenced: int = 0  # distinct keys referenced by rows
    removed: list[str] = field(default_factory=list)  # orphans old enough (removed, or to remove on a dry run)
    recent: list[str] = field(default_factory=list)  # orphans younger than the minimum age: kept for now
    foreign: list[str] = field(default_factory=list)  # keys this app never makes: left alone
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, error) of deletes that failed
    missing: list[MissingObject] = field(default_factory=list)


def _referenced_keys(session: Session) -> dict[str, tuple[str, int]]:
    """Every storage key a row refers to → (table, row id): photos, their thumbnails, kept import files."""
    keys: dict[str, tuple[str, int]] = {}
    for row_id, key, thumbnail in session.execute(select(StoredFile.id, StoredFile.storage_key,
                                                         StoredFile.thumbnail_key)):
        keys[key] = ("stored_files", row_id)
        if thumbnail:
            keys[thumbnail] = ("stored_files", row_id)
    runs = select(ImportRun.id, ImportRun.storage_key).where(ImportRun.storage_key.is_not(None))
    for row_id, key in session.execute(runs):
        keys.setdefault(key, ("import_runs", row_id))
    return keys


def _claimed_now(session: Session, keys: list[str]) -> set[str]:
    """Those of ``keys`` that a row refers to at this moment (rows committed since the first look)."""
    claimed: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        claimed.update(session.scalars(select(StoredFile.storage_key).where(StoredFile.storage_key.in_(chunk))))
        claimed.update(session.scalars(select(StoredFile.thumbnail_key).where(StoredFile.thumbnail_key.in_(chunk))))
        claimed.update(session.scalars(select(ImportRun.storage_key).where(ImportRun.storage_key.in_(chunk))))
    return claimed


def sweep_storage(
    session: Session,
    store: ObjectStore,
    *,
    dry_run: bool = False,
    min_age: timedelta = MIN_AGE,
    owned: Callable[[str], bool] | None = None,
    now: datetime | None = None,
) -> SweepReport:
    """Remove objects no row refers to that are older than ``min_age``; report rows whose object is missing.

    ``owned`` tells the keys this app makes (others — in a shared bucket — are never removed); by default every
    key is the app's. With ``dry_run`` nothing is removed and the report says what would be. Only reads the
    database; the session's transaction is ended (rolled back) so that re-checks see rows committed meanwhile.
    """
    now = now or utcnow()
    cutoff = now - min_age
    report = SweepReport(dry_run=dry_run)
    referenced = _referenced_keys(session)  # rows first: an object stored after this look is young anyway
    report.referenced = len(referenced)
    session.rollback()  # end the read transaction; the re-check below sees rows committed meanwhile

    listed: set[str] = set()
    candidates: list[str] = []
    for obj in store.list_objects():
        report.objects += 1
        listed.add(obj.key)
        if obj.key in referenced:
            continue
        if owned is not None and not owned(obj.key):
            report.foreign.append(obj.key)
        elif obj.last_modified > cutoff:
            report.recent.append(obj.key)
        else:
            candidates.append(obj.key)

    claimed = _claimed_now(session, candidates) if candidates else set()
    session.rollback()
    for key in candidates:
        if key in claimed:
            continue
        if not dry_run:
            try:
                store.delete(key)
            except Exception as exc:  # keep sweeping; the report says which failed
                report.failed.append((key, f"{type(exc).__name__}: {exc}"))
                continue
        report.removed.append(key)

    unlisted = [key for key in referenced if key not in listed]
    still_referenced = _claimed_now(session, unlisted) if unlisted else set()  # a row may have let go meanwhile
    session.rollback()
    for key, (table, row_id) in sorted(referenced.items(), key=lambda item: item[1]):
        if key in still_referenced and not store.exists(key):
            report.missing.append(MissingObject(table, row_id, key))
    return report
