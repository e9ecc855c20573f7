"""Keeping object storage and the database consistent: orphaned objects go, missing objects are reported.

Rows refer to objects in five places: a stored file (``stored_files.storage_key``) and its thumbnail
(``thumbnail_key``), a batch photo still to be matched or filed by hand (``batch_items.upload_key`` — also while its
job waits for a worker that is down), an import file kept for its confirm step (``import_runs.storage_key``), and an
archive ZIP in its 24 hours (``archive_jobs.object_key``). An
object none of them names is an orphan; ``pending_objects`` says how it came to be one:

* **abandoned** — its upload failed, or its delete did (S3 was paused or down): it is removed at once, whatever its
  age (a write to a paused S3 lands when S3 resumes, seconds before the sweep);
* **writing** — its upload is in flight, or its process died between the write and the commit: kept until it is
  older than the minimum age, then removed;
* no record — left by a version without the ledger, or by hand: removed once older than the minimum age.

Rows whose object is gone are reported (both directions). Keys the app never makes are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from confirm.models import ArchiveJob, BatchItem, ImportRun, PendingObject, StoredFile
from confirm.ports import ObjectStore
from confirm.storage_keys import PendingState

MIN_AGE = timedelta(hours=1)
_CHUNK = 500
# Every column that holds a storage key, with the table the report names.
REFERENCES = ((StoredFile, StoredFile.storage_key), (StoredFile, StoredFile.thumbnail_key),
              (BatchItem, BatchItem.upload_key), (ImportRun, ImportRun.storage_key),
              (ArchiveJob, ArchiveJob.object_key))


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
    abandoned: list[str] = field(default_factory=list)  # objects of failed uploads: removed whatever their age
    recent: list[str] = field(default_factory=list)  # orphans younger than the minimum age: kept for now
    in_flight: list[str] = field(default_factory=list)  # of those, uploads recorded as still being written
    foreign: list[str] = field(default_factory=list)  # keys this app never makes: left alone
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, error) of deletes that failed
    missing: list[MissingObject] = field(default_factory=list)
    cleared: int = 0  # pending records dropped (their object is gone, or a row now refers to it)


def _referenced_keys(session: Session) -> dict[str, tuple[str, int]]:
    """Every storage key a row refers to → (table, row id)."""
    keys: dict[str, tuple[str, int]] = {}
    for model, column in REFERENCES:
        for row_id, key in session.execute(select(model.id, column).where(column.is_not(None))):
            keys.setdefault(key, (model.__tablename__, row_id))
    return keys


def _claimed_now(session: Session, keys: list[str]) -> set[str]:
    """Those of ``keys`` that a row refers to at this moment (rows committed since the first look)."""
    claimed: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        for _model, column in REFERENCES:
            claimed.update(session.scalars(select(column).where(column.in_(chunk))))
    return claimed


def _pending(session: Session) -> dict[str, tuple[str, datetime]]:
    return {key: (state, created_at) for key, state, created_at in
            session.execute(select(PendingObject.key, PendingObject.state, PendingObject.created_at))}


def sweep_storage(
    session: Session,
    store: ObjectStore,
    *,
    dry_run: bool = False,
    min_age: timedelta = MIN_AGE,
    owned: Callable[[str], bool] | None = None,
    now: datetime | None = None,
) -> SweepReport:
    """Remove objects no row refers to — abandoned ones at once, others once older than ``min_age``; report rows
    whose object is missing.

    ``owned`` tells the keys this app makes (others — in a shared bucket — are never removed); by default every
    key is the app's. With ``dry_run`` nothing is removed and the report says what would be. Reads run in short
    transactions (ended by rollbacks, so re-checks see rows committed meanwhile); the pending records it drops are
    flushed at the end, for the caller to commit.
    """
    now = now or utcnow()
    cutoff = now - min_age
    report = SweepReport(dry_run=dry_run)
    referenced = _referenced_keys(session)  # rows first: an object stored after this look is young anyway
    pending = _pending(session)
    report.referenced = len(referenced)
    session.rollback()  # end the read transaction; the re-check below sees rows committed meanwhile

    listed: set[str] = set()
    candidates: list[str] = []
    for obj in store.list_objects():
        report.objects += 1
        listed.add(obj.key)
        if obj.key in referenced:
            continue
        state, recorded_at = pending.get(obj.key, (None, None))
        if owned is not None and not owned(obj.key):
            report.foreign.append(obj.key)
        elif state == PendingState.ABANDONED:
            candidates.append(obj.key)
        elif obj.last_modified > cutoff or (recorded_at is not None and recorded_at > cutoff):
            report.recent.append(obj.key)
            if state == PendingState.WRITING:
                report.in_flight.append(obj.key)
        else:
            candidates.append(obj.key)

    claimed = _claimed_now(session, candidates) if candidates else set()
    session.rollback()
    gone: set[str] = set()
    for key in candidates:
        if key in claimed:
            continue
        if not dry_run:
            try:
                store.delete(key)
            except Exception as exc:  # keep sweeping; the report says which failed
                report.failed.append((key, f"{type(exc).__name__}: {exc}"))
                continue
        gone.add(key)
        (report.abandoned if pending.get(key, ("",))[0] == PendingState.ABANDONED else report.removed).append(key)

    unlisted = [key for key in referenced if key not in listed]
    still_referenced = _claimed_now(session, unlisted) if unlisted else set()  # a row may have let go meanwhile
    session.rollback()
    for key, (table, row_id) in sorted(referenced.items(), key=lambda item: item[1]):
        if key in still_referenced and not store.exists(key):
            report.missing.append(MissingObject(table, row_id, key))

    # A record is done with once its object is gone (and the record is old enough not to be an upload that is
    # about to write it), or a row refers to its key.
    done = [key for key, (state, recorded_at) in pending.items()
            if key in referenced or key in gone
            or (key not in listed and (state == PendingState.ABANDONED or recorded_at <= cutoff))]
    report.cleared = len(done)
    if done and not dry_run:
        for start in range(0, len(done), _CHUNK):
            session.execute(delete(PendingObject).where(PendingObject.key.in_(done[start:start + _CHUNK])))
        session.flush()
    return report
