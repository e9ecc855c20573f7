"""The paper loop: a head teacher hands in sheet photos for parents — one by upload number, or a whole stack
matched to students by the QR codes printed on the sheets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors
from confirm.i18n import N_, Message
from confirm.models import BatchItem, BatchUpload, Campaign, SchoolClass, StoredFile, Student, utcnow
from confirm.services import records, review
from confirm.services.common import Actor, audit
from confirm.sheets import SheetRef
from confirm.states import EDITABLE_STATES, State

MAX_OVERRIDE_REASON = 200
# Statuses whose raw upload is kept so the teacher can still file the photo by hand.
WAITING = ("no_qr", "refused")
FILED = ("matched", "assigned")
STATUS_LABELS = {
    "pending": N_("处理中"), "matched": N_("已匹配"), "no_qr": N_("未找到二维码"), "other_class": N_("其他班级"),
    "old_version": N_("旧版确认表"), "duplicate": N_("重复"), "unreadable": N_("无法读取"),
    "refused": N_("质量不合格"), "assigned": N_("已手动归档"), "discarded": N_("已放弃"),
}


def student_by_upload_no(session: Session, school_class: SchoolClass, upload_no: str) -> Student:
    """The student of ``school_class`` with this 拍照上传号; any other number is a field error on upload_no."""
    number = "".join(str(upload_no or "").split())
    if not number:
        raise FieldErrors([("upload_no", Message(N_("请输入确认表上的拍照上传号")))])
    student = session.scalar(
        select(Student).where(Student.upload_no == number, Student.class_id == school_class.id)
    )
    if student is None:  # another class's number says nothing about whose it is
        raise FieldErrors([("upload_no", Message(N_("本班没有拍照上传号为 %(no)s 的学生，请核对"), {"no": number}))])
    return student


def clean_override(ref: SheetRef | None, student: Student, reason: str) -> str:
    """The head teacher's reason for filing a photo the quality gate refused; a sheet that names another student
    can never be filed under this one."""
    if ref is not None and ref.student_id != student.id:
        raise FieldErrors([("override", Message(N_("照片上的二维码属于另一名学生，不能归档到 %(name)s 名下"),
                                                {"name": student.name}))])
    reason = " ".join((reason or "").split())
    if not reason:
        raise FieldErrors([("override_reason", Message(N_("请填写仍然使用这张照片的原因")))])
    if len(reason) > MAX_OVERRIDE_REASON:
        raise FieldErrors([("override_reason", Message(N_("原因不能超过 %(n)s 字"), {"n": MAX_OVERRIDE_REASON}))])
    return reason


def override_quality(actor: Actor, reason: str) -> dict:
    """What is stored with the photo when a head teacher accepted it against the quality gate."""
    return {"override_reason": reason, "override_by": actor.id}


def can_take_sheet(session: Session, campaign: Campaign, student: Student) -> bool:
    """True while the student's confirmation still waits for a sheet (not submitted or approved yet)."""
    confirmation = records.confirmation_for(session, campaign, student)
    return confirmation is None or State(confirmation.state) in EDITABLE_STATES


def submit_on_behalf(
    session: Session, campaign: Campaign, student: Student, sheet: StoredFile, *, actor: Actor,
    how: str, override: str | None = None, now: datetime | None = None,
) -> None:
    """Submit ``student``'s confirmation with ``sheet`` as handed in by a head teacher for the parent."""
    confirmation = records.ensure_confirmation(session, campaign, student)
    review.submit_confirmation(session, confirmation, sheet, actor=actor, now=now)
    detail = {"how": how, "file_id": sheet.id}
    if override:
        detail["override_reason"] = override
    audit(session, actor, "sheet.uploaded_on_behalf", school_id=student.school_id, target=student, detail=detail,
          at=now)
    if override:
        audit(session, actor, "sheet.quality_overridden", school_id=student.school_id, target=sheet,
              detail={"reason": override, "student_id": student.id}, at=now)
    session.flush()


# --- batches -------------------------------------------------------------------------------------------------


def start_batch(session: Session, school_class: SchoolClass, campaign: Campaign, *, actor: Actor) -> BatchUpload:
    """An empty batch for ``school_class``; photos are added one by one."""
    batch = BatchUpload(school_id=school_class.school_id, class_id=school_class.id, campaign_id=campaign.id,
                        created_by_id=actor.id, total=0)
    session.add(batch)
    session.flush()
    audit(session, actor, "batch.started", school_id=school_class.school_id, target=batch)
    return batch


def add_item(session: Session, batch: BatchUpload, filename: str, upload_key: str) -> BatchItem:
    """Record one raw photo of ``batch`` (already in storage under ``upload_key``), waiting to be matched."""
    position = (session.scalar(select(func.max(BatchItem.position)).where(BatchItem.batch_id == batch.id)) or 0) + 1
    item = BatchItem(batch_id=batch.id, position=position, filename=(filename or "")[:200] or f"#{position}",
                     upload_key=upload_key, status="pending")
    session.add(item)
    batch.total = position
    session.flush()
    return item


@dataclass(frozen=True)
class Match:
    """What a photo's QR code says about where it belongs: a status, and the student when it is ours to file."""

    status: str
    student: Student | None = None
    reason: Message | None = None


def match_sheet(session: Session, batch: BatchUpload, ref: SheetRef | None, sha256: str) -> Match:
    """Decide where a photo of ``batch`` belongs from its parsed QR code (None: none found, or not ours)."""
    if ref is None:
        return Match("no_qr", reason=Message(N_("没有找到本平台确认表的二维码，请输入拍照上传号手动归档")))
    student = session.get(Student, ref.student_id)
    if student is None or student.class_id != batch.class_id:  # never name a student of another class
        return Match("other_class", reason=Message(N_("这张确认表不是本班学生的，未归档")))
    if ref.campaign_id != batch.campaign_id:
        return Match("old_version", reason=Message(N_("这是其他核查批次的确认表，未归档")))
    if ref.version != (student.record_version or 1):
        return Match("old_version", reason=Message(N_("这是该学生的旧版确认表（信息已变更），请打印新表重签")))
    taken = session.scalar(
        select(BatchItem.id).where(BatchItem.batch_id == batch.id, BatchItem.student_id == student.id,
                                   BatchItem.status.in_(FILED)).limit(1)
    )
    if taken is not None:
        return Match("duplicate", reason=Message(N_("本批次已有该学生的确认表")))
    same_image = session.scalar(
        select(StoredFile.id).where(StoredFile.school_id == batch.school_id, StoredFile.sha256 == sha256).limit(1)
    )
    if same_image is not None:
        return Match("duplicate", reason=Message(N_("这张照片之前已经上传过")))
    campaign = session.get(Campaign, batch.campaign_id)
    if not can_take_sheet(session, campaign, student):
        return Match("duplicate", reason=Message(N_("该学生的确认表已经提交，未重复归档")))
    return Match("matched", student=student)


def finish_item(
    session: Session, item: BatchItem, status: str, *, reason: Message | str | None = None,
    student: Student | None = None, sheet: StoredFile | None = None, qr: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record what processing found. ``reason`` is kept as its Chinese text — a plain msgid, so the results table
    can translate it, unless it carries parameters (the quality gate's figures)."""
    item.status = status
    item.reason = (reason.render() if isinstance(reason, Message) else reason)[:1000] if reason else None
    item.student_id = student.id if student is not None else None
    item.file_id = sheet.id if sheet is not None else None
    if qr is not None:
        item.qr = qr[:64]
    item.processed_at = now or utcnow()
    session.flush()


def discard_item(session: Session, item: BatchItem, *, actor: Actor) -> None:
    """The teacher gives up on a photo that could not be filed."""
    if item.status not in WAITING:
        raise FieldErrors([("", Message(N_("这张照片已经处理，不能放弃")))])
    finish_item(session, item, "discarded", reason=Message(N_("班主任放弃了这张照片")))
    audit(session, actor, "batch.item_discarded", school_id=item.batch.school_id, target=item)


def progress(batch: BatchUpload) -> dict:
    """Counts by status and how many photos are processed, for the progress bar."""
    counts = Counter(item.status for item in batch.items)
    done = sum(n for status, n in counts.items() if status != "pending")
    return {"total": batch.total, "done": done, "counts": dict(counts),
            "filed": counts["matched"] + counts["assigned"], "waiting": counts["no_qr"] + counts["refused"]}
