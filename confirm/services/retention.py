"""Deleting what is no longer needed (``flask retention``): the proof photos of a finished campaign, and rows that
have expired. Repeat-safe: every deletion is one conditional DELETE, so a second run (or two at once) deletes
nothing more; a dry run counts the same rows and deletes none.

* **Proofs** (户口簿 and ID photos for key-data corrections) of a campaign that is closed — a newer campaign of the
  school started — and whose export was taken (the change list, or the whole-school student list, exported while
  it ran: an audit row, see ``confirm.services.exports.EXPORT_TAKEN``), ``proof_days`` after the later of the two.
  The row goes in this transaction; its objects (photo and thumbnail) once it commits, through the storage port
  (a delete that fails leaves the key to ``sweep-storage``). Signed sheet photos stay: they are the record.
* **Expired rows**, ``expired_days`` after they expired: SMS codes, registration codes that were used or revoked and
  that no guardianship refers to, sessions, rate counters whose window has ended, and repeat guards. Never sooner
  than the longest rate-limit window, which misuse checks also look back over.

The audit trail is never deleted (it is append-only); each campaign's proofs deletion is itself an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from confirm.models import (
    AuditEvent,
    BatchItem,
    Campaign,
    Confirmation,
    Guardianship,
    RateCounter,
    RegistrationCode,
    RepeatGuard,
    SmsChallenge,
    StoredFile,
    WebSession,
    utcnow,
)
from confirm.ports import ObjectStore
from confirm.services import limits
from confirm.services.common import SYSTEM, audit
from confirm.services.exports import EXPORT_TAKEN, AuditAction
from confirm.services.files import delete_after_commit

PROOF_KIND = "proof"


@dataclass
class RetentionReport:
    """What one run deleted (or, on a dry run, would delete)."""

    dry_run: bool
    proofs: int = 0  # proof rows (each with its photo and, maybe, a thumbnail)
    objects: int = 0  # stored objects handed to storage for deletion
    campaigns: list[int] = field(default_factory=list)  # campaigns whose proofs went in this run
    waiting_for_export: list[int] = field(default_factory=list)  # closed campaigns with proofs, no export yet
    rows: dict[str, int] = field(default_factory=dict)  # expired rows per table


def longest_window() -> timedelta:
    """The longest rate-limit window: counters (and SMS codes misuse checks count) are kept at least this long."""
    windows = [v.per for v in vars(limits).values() if isinstance(v, limits.Limit)]
    return max(windows, default=timedelta(days=1))


def _closed_at(session: Session) -> dict[int, datetime]:
    """Each closed campaign → when it closed: when the school's next campaign started."""
    campaigns = session.execute(select(Campaign.id, Campaign.school_id, Campaign.created_at, Campaign.is_active)
                                .order_by(Campaign.school_id, Campaign.created_at, Campaign.id)).all()
    closed: dict[int, datetime] = {}
    for before, after in zip(campaigns, campaigns[1:], strict=False):
        if before.school_id == after.school_id and not before.is_active:
            closed[before.id] = after.created_at
    return closed


def _exports_taken(session: Session) -> dict[int, datetime]:
    """Each campaign whose export was taken → the latest such export."""
    taken: dict[int, datetime] = {}
    for at, action, detail in session.execute(select(AuditEvent.at, AuditEvent.action, AuditEvent.detail)
                                              .where(AuditEvent.action.in_(EXPORT_TAKEN))):
        detail = detail or {}
        if action == AuditAction.STUDENTS_EXPORTED and detail.get("scope") != "school":
            continue  # one class's list is not the campaign's export
        campaign_id = detail.get("campaign_id")
        if isinstance(campaign_id, int) and (campaign_id not in taken or at > taken[campaign_id]):
            taken[campaign_id] = at
    return taken


def _proofs_due(session: Session, campaign_id: int) -> list[StoredFile]:
    still_referenced = or_(
        StoredFile.id.in_(select(Confirmation.sheet_file_id).where(Confirmation.sheet_file_id.is_not(None))),
        StoredFile.id.in_(select(BatchItem.file_id).where(BatchItem.file_id.is_not(None))),
    )
    return list(session.scalars(
        select(StoredFile).join(Confirmation, Confirmation.id == StoredFile.confirmation_id)
        .where(Confirmation.campaign_id == campaign_id, StoredFile.kind == PROOF_KIND, ~still_referenced)
        .order_by(StoredFile.id)))


def delete_proofs(session: Session, store: ObjectStore, report: RetentionReport, *, proof_days: int,
                  now: datetime) -> None:
    """The proofs of every closed campaign whose export was taken ``proof_days`` ago or more."""
    closed, taken = _closed_at(session), _exports_taken(session)
    schools = dict(session.execute(select(Campaign.id, Campaign.school_id)).all())
    for campaign_id, closed_at in sorted(closed.items()):
        proofs = _proofs_due(session, campaign_id)
        if not proofs:
            continue
        if campaign_id not in taken:
            report.waiting_for_export.append(campaign_id)
            continue
        if max(closed_at, taken[campaign_id]) > now - timedelta(days=proof_days):
            continue
        keys = [k for p in proofs for k in (p.storage_key, p.thumbnail_key) if k]
        report.proofs += len(proofs)
        report.objects += len(keys)
        report.campaigns.append(campaign_id)
        if report.dry_run:
            continue
        ids = [p.id for p in proofs]
        deleted = session.execute(delete(StoredFile).where(StoredFile.id.in_(ids), StoredFile.kind == PROOF_KIND)
                                  .execution_options(synchronize_session=False)).rowcount
        for key in keys:
            delete_after_commit(session, store, key)
        audit(session, SYSTEM, "retention.proofs_deleted", school_id=schools[campaign_id],
              target=session.get(Campaign, campaign_id), at=now,
              detail={"proofs": deleted, "students": len({p.student_id for p in proofs}), "days": proof_days})


def _expired(now: datetime, expired_days: int) -> dict[str, tuple[type, object]]:
    """Each table's expired rows: the model and the condition."""
    cutoff = now - max(timedelta(days=expired_days), longest_window())
    unreferenced = RegistrationCode.id.not_in(select(Guardianship.registration_code_id)
                                              .where(Guardianship.registration_code_id.is_not(None)))
    return {
        "sms_challenges": (SmsChallenge, SmsChallenge.expires_at < cutoff),
        "registration_codes": (RegistrationCode, and_(unreferenced, or_(RegistrationCode.revoked_at < cutoff,
                                                                         RegistrationCode.used_at < cutoff))),
        "web_sessions": (WebSession, WebSession.expires_at < cutoff),
        "rate_counters": (RateCounter, RateCounter.started_at < cutoff - longest_window()),
        "repeat_guards": (RepeatGuard, RepeatGuard.expires_at < cutoff),
    }


def delete_expired(session: Session, report: RetentionReport, *, expired_days: int, now: datetime) -> None:
    """The expired rows of every table above, one DELETE each."""
    for table, (model, condition) in _expired(now, expired_days).items():
        if report.dry_run:
            report.rows[table] = session.scalar(select(func.count()).select_from(model).where(condition)) or 0
        else:
            report.rows[table] = session.execute(delete(model).where(condition)
                                                 .execution_options(synchronize_session=False)).rowcount
    if not report.dry_run and any(report.rows.values()):
        audit(session, SYSTEM, "retention.expired_deleted", at=now, detail=dict(report.rows))


def run_retention(session: Session, store: ObjectStore, *, proof_days: int, expired_days: int, dry_run: bool = False,
                  now: datetime | None = None) -> RetentionReport:
    """Delete (or count, on a dry run) everything due; flushes, never commits."""
    now = now or utcnow()
    report = RetentionReport(dry_run=dry_run)
    delete_proofs(session, store, report, proof_days=proof_days, now=now)
    delete_expired(session, report, expired_days=expired_days, now=now)
    session.flush()
    return report
