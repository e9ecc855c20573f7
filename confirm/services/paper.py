"""The paper loop: a head teacher hands in sheet photos for parents — one by upload number, or a whole stack
matched to students by the QR codes printed on the sheets.

Every use case takes the object store and the photo intake as ports, flushes and never commits; an object that a
change no longer needs (a batch photo once it is filed or given up) is deleted only after that change commits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import DomainError, FieldErrors, UnreadablePhoto
from confirm.folding import fold_digits
from confirm.i18n import N_, Message
from confirm.models import BatchItem, BatchUpload, Campaign, SchoolClass, StoredFile, Student, utcnow
from confirm.ports import ObjectStore, PhotoExaminer, PhotoVerdict
from confirm.services import records, review
from confirm.services.common import Actor, audit
from confirm.services.files import delete_after_commit, put_object, store_photo
from confirm.sheets import SheetRef
from confirm.states import (
    BATCH_FILED,
    BATCH_GROUP_OF,
    BATCH_MOVES,
    BATCH_WAITING,
    EDITABLE_STATES,
    BatchGroup,
    BatchItemStatus,
    State,
    Submission,
    move,
)
from confirm.storage_keys import new_object_key

MAX_OVERRIDE_REASON = 200
STATUS_LABELS = {
    BatchItemStatus.PENDING: N_("处理中"), BatchItemStatus.MATCHED: N_("已匹配"),
    BatchItemStatus.NO_QR: N_("未找到二维码"), BatchItemStatus.OTHER_CLASS: N_("其他班级"),
    BatchItemStatus.OLD_VERSION: N_("旧版确认表"), BatchItemStatus.DUPLICATE: N_("重复"),
    BatchItemStatus.UNREADABLE: N_("无法读取"), BatchItemStatus.REFUSED: N_("质量不合格"),
    BatchItemStatus.ASSIGNED: N_("已手动归档"), BatchItemStatus.DISCARDED: N_("已放弃"),
}


class GateRefused(FieldErrors):
    """The quality gate refused the photo; a head teacher may still file it with a recorded reason."""


def student_by_upload_no(session: Session, school_class: SchoolClass, upload_no: str) -> Student:
    """The student of ``school_class`` with this 拍照上传号; any other number is a field error on upload_no."""
    number = fold_digits(upload_no)
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
    review.submit_confirmation(session, confirmation, sheet, actor=actor, now=now, via=Submission(how))
    detail = {"how": how, "file_id": sheet.id}
    if override:
        detail["override_reason"] = override
    audit(session, actor, "sheet.uploaded_on_behalf", school_id=student.school_id, target=student, detail=detail,
          at=now)
    if override:
        audit(session, actor, "sheet.quality_overridden", school_id=student.school_id, target=sheet,
              detail={"reason": override, "student_id": student.id}, at=now)
    session.flush()


def hand_in(
    session: Session, student: Student, campaign: Campaign, data: bytes, *, store: ObjectStore,
    examiner: PhotoExaminer, actor: Actor, how: str, override_reason: str | None = None,
    qr_required: bool | None = None,
) -> StoredFile:
    """Examine ``data`` as ``student``'s signed sheet, store it and submit the confirmation for the parent.

    A refused photo raises GateRefused unless ``override_reason`` is given (the teacher ticked "use it anyway");
    a sheet whose QR names another student is never filed here. A file that is no photo is a field error on
    ``sheet``.
    """
    if not can_take_sheet(session, campaign, student):
        raise FieldErrors([("upload_no", Message(N_("该学生的确认表已经提交，不能再代为上传")))])
    try:
        verdict = examiner.sheet_of(data, student, campaign, qr_required=qr_required, for_staff=True)
    except UnreadablePhoto as exc:
        raise FieldErrors([("sheet", exc.message)]) from None
    extra, override = None, None
    if not verdict.is_accepted:
        if override_reason is None:
            raise GateRefused([("sheet", reason) for reason in verdict.reasons])
        override = clean_override(examiner.sheet_ref(examiner.qr_of(verdict)), student, override_reason)
        extra = {"override_reason": override, "override_by": actor.id}
    sheet = store_photo(session, store, student, verdict, kind="sheet", actor=actor, extra_quality=extra)
    submit_on_behalf(session, campaign, student, sheet, actor=actor, how=how, override=override)
    return sheet


# --- batches -------------------------------------------------------------------------------------------------


def start_batch(session: Session, school_class: SchoolClass, campaign: Campaign, *, actor: Actor) -> BatchUpload:
    """An empty batch for ``school_class``; photos are added one by one."""
    batch = BatchUpload(school_id=school_class.school_id, class_id=school_class.id, campaign_id=campaign.id,
                        created_by_id=actor.id, total=0)
    session.add(batch)
    session.flush()
    audit(session, actor, "batch.started", school_id=school_class.school_id, target=batch)
    return batch


def add_photo(session: Session, batch: BatchUpload, filename: str, data: bytes, *, store: ObjectStore) -> BatchItem:
    """Keep one raw photo of ``batch`` in storage and record it as waiting to be matched (the match is a job)."""
    key = put_object(session, store, new_object_key("batch", batch.school_id, "bin"), data,
                     "application/octet-stream")
    position = (session.scalar(select(func.max(BatchItem.position)).where(BatchItem.batch_id == batch.id)) or 0) + 1
    item = BatchItem(batch_id=batch.id, position=position, filename=(filename or "")[:200] or f"#{position}",
                     upload_key=key, status=BatchItemStatus.PENDING.value)
    session.add(item)
    batch.total = position
    session.flush()
    return item


@dataclass(frozen=True)
class Match:
    """What a photo's QR code says about where it belongs: a status, and the student when it is ours to file."""

    status: BatchItemStatus
    student: Student | None = None
    reason: Message | None = None


def match_sheet(session: Session, batch: BatchUpload, ref: SheetRef | None, sha256: str) -> Match:
    """Decide where a photo of ``batch`` belongs from its parsed QR code (None: none found, or not ours)."""
    if ref is None:
        return Match(BatchItemStatus.NO_QR,
                     reason=Message(N_("没有找到本平台确认表的二维码，请输入拍照上传号手动归档")))
    student = session.get(Student, ref.student_id)
    if student is None or student.class_id != batch.class_id:  # never name a student of another class
        return Match(BatchItemStatus.OTHER_CLASS, reason=Message(N_("这张确认表不是本班学生的，未归档")))
    if ref.campaign_id != batch.campaign_id:
        return Match(BatchItemStatus.OLD_VERSION, reason=Message(N_("这是其他核查批次的确认表，未归档")))
    if ref.version != (student.record_version or 1):
        return Match(BatchItemStatus.OLD_VERSION,
                     reason=Message(N_("这是该学生的旧版确认表（信息已变更），请打印新表重签")))
    taken = session.scalar(
        select(BatchItem.id).where(BatchItem.batch_id == batch.id, BatchItem.student_id == student.id,
                                   BatchItem.status.in_([s.value for s in BATCH_FILED])).limit(1)
    )
    if taken is not None:
        return Match(BatchItemStatus.DUPLICATE, reason=Message(N_("本批次已有该学生的确认表")))
    same_image = session.scalar(
        select(StoredFile.id).where(StoredFile.school_id == batch.school_id, StoredFile.sha256 == sha256).limit(1)
    )
    if same_image is not None:
        return Match(BatchItemStatus.DUPLICATE, reason=Message(N_("这张照片之前已经上传过")))
    campaign = session.get(Campaign, batch.campaign_id)
    if not can_take_sheet(session, campaign, student):
        return Match(BatchItemStatus.DUPLICATE, reason=Message(N_("该学生的确认表已经提交，未重复归档")))
    return Match(BatchItemStatus.MATCHED, student=student)


def finish_item(
    session: Session, item: BatchItem, status: BatchItemStatus, *, store: ObjectStore,
    reason: Message | str | None = None, student: Student | None = None, sheet: StoredFile | None = None,
    qr: str | None = None, now: datetime | None = None,
) -> None:
    """Record what became of a photo. ``reason`` is kept as its Chinese text — a plain msgid, so the results table
    can translate it, unless it carries parameters (the quality gate's figures). Unless the photo still waits
    for the teacher, its raw upload is deleted once this commits."""
    item.status = move(item.status, status, BATCH_MOVES).value
    item.reason = (reason.render() if isinstance(reason, Message) else reason)[:1000] if reason else None
    item.student_id = student.id if student is not None else None
    item.file_id = sheet.id if sheet is not None else None
    if qr is not None:
        item.qr = qr[:64]
    item.processed_at = now or utcnow()
    if status not in BATCH_WAITING:
        delete_after_commit(session, store, item.upload_key)
        item.upload_key = None
    session.flush()


def process_item(session: Session, item: BatchItem, *, store: ObjectStore, examiner: PhotoExaminer) -> None:
    """Match one uploaded photo to a student by its QR code and file it when it is ours (a pending item only)."""
    if item.status != BatchItemStatus.PENDING:
        return
    batch = item.batch
    try:
        data = store.get(item.upload_key) if item.upload_key else b""
        verdict: PhotoVerdict = examiner.any_sheet(data)
    except (KeyError, UnreadablePhoto) as exc:
        reason = exc.message if isinstance(exc, UnreadablePhoto) else Message(N_("照片文件丢失，请重新上传"))
        finish_item(session, item, BatchItemStatus.UNREADABLE, store=store, reason=reason)
        return
    match = match_sheet(session, batch, examiner.sheet_ref(verdict.qr), verdict.image.sha256)
    if match.status in (BatchItemStatus.MATCHED, BatchItemStatus.NO_QR) and not verdict.is_accepted:
        # Kept for the teacher: filed by hand after a look, with a reason, or discarded.
        reason = "；".join(r.render() for r in verdict.reasons)
        finish_item(session, item, BatchItemStatus.REFUSED, store=store, reason=reason, qr=verdict.qr)
        return
    if match.status != BatchItemStatus.MATCHED:
        finish_item(session, item, match.status, store=store, reason=match.reason, qr=verdict.qr)
        return
    teacher = Actor("staff", batch.created_by_id)
    campaign = session.get(Campaign, batch.campaign_id)
    sheet = store_photo(session, store, match.student, verdict, kind="sheet", actor=teacher)
    submit_on_behalf(session, campaign, match.student, sheet, actor=teacher, how="batch")
    finish_item(session, item, BatchItemStatus.MATCHED, store=store, student=match.student, sheet=sheet,
                qr=verdict.qr)


def give_up_item(session: Session, item: BatchItem, error: DomainError | None, *, store: ObjectStore) -> None:
    """Processing failed (a refusal found late, or an unexpected error): the photo is not left pending for ever."""
    if error is not None:
        finish_item(session, item, BatchItemStatus.DUPLICATE, store=store, reason=error.message)
    else:
        finish_item(session, item, BatchItemStatus.UNREADABLE, store=store,
                    reason=Message(N_("处理这张照片时出错，请重新上传")))


def assign_item(
    session: Session, item: BatchItem, student: Student, *, store: ObjectStore, examiner: PhotoExaminer,
    actor: Actor, override_reason: str | None = None,
) -> StoredFile:
    """File a photo that matching left over under the student the teacher chose."""
    if item.status not in BATCH_WAITING or not item.upload_key:
        raise FieldErrors([("", Message(N_("这张照片已经处理，不能再归档")))])
    try:
        data = store.get(item.upload_key)
    except KeyError:
        raise FieldErrors([("", Message(N_("照片文件丢失，请重新上传")))]) from None
    campaign = session.get(Campaign, item.batch.campaign_id)
    sheet = hand_in(session, student, campaign, data, store=store, examiner=examiner, actor=actor,
                    how="batch_manual", override_reason=override_reason, qr_required=False)
    finish_item(session, item, BatchItemStatus.ASSIGNED, store=store, student=student, sheet=sheet)
    return sheet


def discard_item(session: Session, item: BatchItem, *, store: ObjectStore, actor: Actor) -> None:
    """The teacher gives up on a photo that could not be filed."""
    if item.status not in BATCH_WAITING:
        raise FieldErrors([("", Message(N_("这张照片已经处理，不能放弃")))])
    finish_item(session, item, BatchItemStatus.DISCARDED, store=store, reason=Message(N_("班主任放弃了这张照片")))
    audit(session, actor, "batch.item_discarded", school_id=item.batch.school_id, target=item)


def suggested_upload_numbers(session: Session, batch: BatchUpload, examiner: PhotoExaminer) -> dict[int, str]:
    """For a photo waiting for the teacher whose QR names a student of this class: that student's upload number."""
    out = {}
    for item in batch.items:
        ref = examiner.sheet_ref(item.qr) if item.status in BATCH_WAITING else None
        if ref is not None:
            student = session.get(Student, ref.student_id)
            if student is not None and student.class_id == batch.class_id:
                out[item.id] = student.upload_no
    return out


def progress(batch: BatchUpload) -> dict:
    """Counts by status and how many photos are processed, for the progress bar."""
    counts = Counter(item.status for item in batch.items)
    done = sum(n for status, n in counts.items() if status != BatchItemStatus.PENDING)
    return {"total": batch.total, "done": done, "counts": dict(counts),
            "filed": sum(counts[s] for s in BATCH_FILED), "waiting": sum(counts[s] for s in BATCH_WAITING)}


def grouped_items(batch: BatchUpload, only: BatchGroup | None = None) -> list[tuple[BatchGroup, list[BatchItem]]]:
    """The batch's photos by group (待手动处理 first, then filed, refused, still pending), each in upload order;
    with ``only`` just that group. Groups without photos are left out."""
    groups: dict[BatchGroup, list[BatchItem]] = {group: [] for group in BatchGroup}
    for item in batch.items:
        groups[BATCH_GROUP_OF[BatchItemStatus(item.status)]].append(item)
    return [(group, items) for group, items in groups.items() if items and (only is None or group == only)]
