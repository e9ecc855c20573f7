"""``flask retention``: a finished campaign's proof photos go once it is closed, exported and the period has passed;
expired rows go; a second run deletes nothing more; a dry run deletes nothing; every run says what it deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from confirm.models import (
    AuditEvent,
    Campaign,
    Guardianship,
    RateCounter,
    RegistrationCode,
    SmsChallenge,
    StoredFile,
    WebSession,
    utcnow,
)
from confirm.services.common import SYSTEM, audit
from confirm.services.records import ensure_confirmation
from webapp.adapters.storage import store

DAY = timedelta(days=1)


def _stored(app, db, world, confirmation, kind: str, name: str, thumbnail: bool = False) -> StoredFile:
    keys = [f"test/{name}.jpg", *([f"test/{name}.thumb.jpg"] if thumbnail else [])]
    with app.app_context():
        for key in keys:
            store().put(key, b"jpeg-bytes", "image/jpeg")
    stored = StoredFile(school_id=world.school.id, student_id=confirmation.student_id, kind=kind,
                        storage_key=keys[0], thumbnail_key=keys[1] if thumbnail else None, sha256="0" * 64,
                        content_type="image/jpeg", size_bytes=10, confirmation_id=confirmation.id,
                        uploaded_by_kind="parent", uploaded_by_id=world.parent.id)
    db.add(stored)
    db.flush()
    return stored


def _exists(app, key: str) -> bool:
    with app.app_context():
        try:
            store().get(key)
        except KeyError:
            return False
        return True


@pytest.fixture
def finished(app, db, world):
    """The world's campaign with a proof and a sheet photo, closed 40 days ago by the next campaign; its change
    list exported 41 days ago."""
    old = db.get(Campaign, world.campaign.id)
    old.created_at = utcnow() - 100 * DAY
    confirmation = ensure_confirmation(db, old, world.students_a[0])
    proof = _stored(app, db, world, confirmation, "proof", "hukou", thumbnail=True)
    sheet = _stored(app, db, world, confirmation, "sheet", "sheet")
    old.is_active = False
    db.add(Campaign(school_id=world.school.id, name="下一次核查", deadline=(utcnow() + 30 * DAY).date(),
                    is_active=True, created_at=utcnow() - 40 * DAY))
    db.commit()
    return old, proof.id, sheet.id


def _export_taken(db, campaign, days_ago: int) -> None:
    audit(db, SYSTEM, "export.changes", school_id=campaign.school_id, target=campaign,
          at=utcnow() - days_ago * DAY, detail={"students": 1, "corrections": 1, "campaign_id": campaign.id})
    db.commit()


def test_a_closed_and_exported_campaigns_proofs_are_deleted_with_their_photos_and_the_sheet_stays(
        app, db, runner, world, finished):
    campaign, proof, sheet = finished
    campaign_id = campaign.id
    _export_taken(db, campaign, 41)
    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 proof documents (2 stored objects) of 1 campaigns" in result.output
    db.expire_all()
    assert db.get(StoredFile, proof) is None and db.get(StoredFile, sheet) is not None
    assert not _exists(app, "test/hukou.jpg") and not _exists(app, "test/hukou.thumb.jpg")
    assert _exists(app, "test/sheet.jpg")
    [row] = db.scalars(select(AuditEvent).where(AuditEvent.action == "retention.proofs_deleted")).all()
    assert (row.actor_kind, row.target_id, row.detail["proofs"], row.detail["students"]) == (
        "system", campaign_id, 1, 1)

    again = runner.invoke(args=["retention"])
    assert again.exit_code == 0 and "deleted 0 proof documents (0 stored objects) of 0 campaigns" in again.output
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.action == "retention.proofs_deleted")) == 1


def test_a_dry_run_reports_the_same_and_deletes_nothing(app, db, runner, world, finished):
    campaign, proof, _sheet = finished
    _export_taken(db, campaign, 41)
    result = runner.invoke(args=["retention", "--dry-run"])
    assert result.exit_code == 0 and "would delete 1 proof documents (2 stored objects)" in result.output
    db.expire_all()
    assert db.get(StoredFile, proof) is not None and _exists(app, "test/hukou.jpg")
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action.like("retention.%"))) is None


def test_proofs_stay_until_the_export_is_taken_and_the_period_has_passed(app, db, runner, world, finished):
    campaign, proof, _sheet = finished
    waiting = runner.invoke(args=["retention"])
    assert "kept the proofs of 1 closed campaigns whose export was not taken" in waiting.output
    _export_taken(db, campaign, 3)  # exported three days ago: the 30 days count from then
    recent = runner.invoke(args=["retention"])
    assert "deleted 0 proof documents" in recent.output
    app.config["RETENTION_PROOF_DAYS"] = 2
    due = runner.invoke(args=["retention"])
    assert "deleted 1 proof documents" in due.output
    db.expire_all()
    assert db.get(StoredFile, proof) is None


def test_the_running_campaigns_proofs_are_never_deleted(app, db, runner, world):
    campaign = db.get(Campaign, world.campaign.id)
    confirmation = ensure_confirmation(db, campaign, world.students_a[0])
    proof = _stored(app, db, world, confirmation, "proof", "running").id
    db.commit()
    _export_taken(db, campaign, 90)
    app.config["RETENTION_PROOF_DAYS"] = 0
    assert "deleted 0 proof documents" in runner.invoke(args=["retention"]).output
    db.expire_all()
    assert db.get(StoredFile, proof) is not None and _exists(app, "test/running.jpg")


def test_expired_rows_go_after_the_period_and_live_ones_stay(app, db, runner, world):
    now = utcnow()
    for days in (10, 0):
        db.add(SmsChallenge(phone="13800000001", purpose="login", code_hash="x" * 64,
                            created_at=now - (days + 1) * DAY, expires_at=now - days * DAY))
        db.add(WebSession(id=f"{days:064d}", data=b"", created_at=now - (days + 1) * DAY,
                          last_seen_at=now - (days + 1) * DAY, expires_at=now - days * DAY))
        db.add(RateCounter(key=f"{days:064d}", started_at=now - days * DAY, count=3))
    student, other = world.students_a[1], world.students_a[2]
    revoked = RegistrationCode(student_id=student.id, code_hash="r" * 64, issued_at=now - 20 * DAY,
                               revoked_at=now - 10 * DAY)
    used = RegistrationCode(student_id=other.id, code_hash="u" * 64, issued_at=now - 20 * DAY,
                            used_at=now - 10 * DAY, used_by_parent_id=world.parent.id)
    working = RegistrationCode(student_id=student.id, code_hash="w" * 64, issued_at=now - 20 * DAY)
    db.add_all([revoked, used, working])
    db.flush()
    db.add(Guardianship(parent_id=world.parent.id, student_id=other.id, registration_code_id=used.id))
    db.commit()

    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    for table in ("sms_challenges", "web_sessions", "rate_counters", "registration_codes"):
        assert f"deleted 1 {table} rows expired at least 7 days ago" in result.output, result.output
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(SmsChallenge)) == 1
    assert db.scalar(select(func.count()).select_from(WebSession)) == 1
    assert db.scalar(select(func.count()).select_from(RateCounter)) == 1
    assert set(db.scalars(select(RegistrationCode.code_hash))) == {"u" * 64, "w" * 64}  # the used one is linked
    [row] = db.scalars(select(AuditEvent).where(AuditEvent.action == "retention.expired_deleted")).all()
    assert row.detail["sms_challenges"] == 1 and row.detail["registration_codes"] == 1

    again = runner.invoke(args=["retention"])
    assert "deleted 0 sms_challenges rows" in again.output and "deleted 0 registration_codes rows" in again.output
