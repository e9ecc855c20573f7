"""What one student's electronic archive (电子档案) holds, assembled from the database for many students at once.

The record as it stands (confirmed), every correction old → new with who requested it and who decided it when, the
documents kept for the student (signed-sheet photos and proof documents, by storage key), and the audit trail of the
record: the confirmation's transitions and the audit events about the student, the confirmation, its corrections and
files. The PDF is drawn from this in ``webapp.adapters.archive_pdf``; nothing here reads storage.

``load_archives`` runs a fixed number of queries for any number of students (one per table, by id lists), so a
school's archive is assembled chunk by chunk without a query per student.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from confirm.fields import MEMBER_FIELDS, MEMBER_SECTION, RESIDENT_ID, SECTIONS, field_for, fields_in_section
from confirm.i18n import N_
from confirm.models import (
    AuditEvent,
    Campaign,
    Confirmation,
    ConfirmationEvent,
    Guardianship,
    ParentAccount,
    SchoolClass,
    StaffUser,
    StoredFile,
    Student,
)
from confirm.presentation import readable
from confirm.services.common import mask_phone
from confirm.states import STAGE_LABELS, CorrectionStatus, State, stage_of

CORRECTION_LABELS = {
    CorrectionStatus.DRAFT: N_("家长未提交"),
    CorrectionStatus.SUBMITTED: N_("待班主任审核"),
    CorrectionStatus.APPLIED: N_("已生效"),
    CorrectionStatus.PENDING_ADMIN: N_("待学籍管理员审核"),
    CorrectionStatus.REJECTED: N_("已驳回"),
    CorrectionStatus.WITHDRAWN: N_("家长已撤回"),
}

# The audit actions a student's trail shows in words; any other is shown as its code.
ACTION_LABELS = {
    "confirmation.submitted": N_("提交确认表"),
    "confirmation.approved": N_("班主任审核通过"),
    "confirmation.bulk_approved": N_("班主任批量审核通过"),
    "confirmation.returned": N_("退回修改"),
    "corrections.saved": N_("保存更正"),
    "key_correction.applied": N_("关键信息更正已生效"),
    "key_correction.rejected": N_("关键信息更正被驳回"),
    "key_correction.resubmitted": N_("重新提交关键信息更正"),
    "key_correction.withdrawn": N_("撤回关键信息更正"),
    "proof.added": N_("上传证明材料"),
    "sheet.quality_overridden": N_("班主任接受了未通过质量检查的照片"),
    "sheet.uploaded_on_behalf": N_("班主任代为上传确认表"),
    "parent.linked_student": N_("家长关联学生"),
    "parent.registered": N_("家长注册"),
    "guardianship.removed": N_("解除家长关联"),
    "registration_code.issued": N_("发放注册码"),
    "registration_code.reset": N_("重置注册码"),
    "student.created": N_("建立学生记录"),
    "student.imported": N_("导入学生记录"),
}
TRANSITION_LABELS = {
    State.SUBMITTED: N_("状态：待审核"),
    State.RETURNED: N_("状态：已退回"),
    State.APPROVED: N_("状态：已通过"),
    State.OPEN: N_("状态：未提交"),
}
DOCUMENT_LABELS = {"sheet": N_("签字确认表照片"), "proof": N_("证明材料")}


@dataclass(frozen=True)
class RecordLine:
    """One field of the record as it stands."""

    label: str
    value: str


@dataclass(frozen=True)
class RecordSection:
    title: str
    lines: list[RecordLine]


@dataclass(frozen=True)
class CorrectionLine:
    """One requested change: the field, old → new, its status, who asked, who decided and when."""

    field: str
    old: str
    new: str
    status: str
    is_key_data: bool
    requested_by: str
    decided_by: str
    decided_at: datetime | None
    reason: str


@dataclass(frozen=True)
class Document:
    """A stored file of the student: a signed-sheet photo or a proof document."""

    file_id: int
    kind: str  # sheet / proof
    label: str  # e.g. 证明材料 2
    storage_key: str
    content_type: str
    sha256: str
    uploaded_at: datetime
    is_current_sheet: bool = False


@dataclass(frozen=True)
class TrailEntry:
    """One line of the audit trail."""

    at: datetime
    actor: str
    action: str
    note: str = ""


@dataclass
class StudentArchive:
    """Everything one student's archive PDF shows."""

    student_id: int
    school_name: str
    class_title: str
    name: str
    birth_date: str  # YYYY-MM-DD, or "" when unknown
    student_no: str  # 全国学籍号 (G + resident ID number) when it can be known
    campaign_name: str
    stage: str  # 未注册 … 已通过
    state: str  # the confirmation's state value ("" without one)
    sections: list[RecordSection] = field(default_factory=list)
    corrections: list[CorrectionLine] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    trail: list[TrailEntry] = field(default_factory=list)

    @property
    def base_name(self) -> str:
        """姓名-出生日期, the file name within the class folder (before any namesake suffix)."""
        return f"{self.name}-{self.birth_date.replace('-', '') or self.student_id}"


def safe_name(text: str) -> str:
    """``text`` usable as one path part of a ZIP entry: no slashes, no control characters, no leading dots."""
    cleaned = "".join("_" if ch in '/\\:*?"<>|' or ord(ch) < 32 else ch for ch in text).strip().lstrip(".")
    return cleaned or "_"


def student_number(student: Student) -> str:
    """全国学籍号: "G" followed by the resident ID number (domain.md); "" when the student has none."""
    if student.value("id_type") == RESIDENT_ID and len(student.id_number or "") == 18:
        return f"G{student.id_number}"
    return ""


def _record_sections(student: Student) -> list[RecordSection]:
    sections = []
    for section in SECTIONS:
        lines = [RecordLine(f.label_zh, readable(f, student.value(f.key))) for f in fields_in_section(section.key)]
        sections.append(RecordSection(section.label_zh, lines))
    for member in student.members:
        lines = [RecordLine(f.label_zh, readable(f, member.value(f.key))) for f in MEMBER_FIELDS]
        if any(line.value for line in lines):
            sections.append(RecordSection(f"{MEMBER_SECTION.label_zh} {member.slot}", lines))
    return sections


class _Names:
    """Who did something, as the archive names them: staff by name, parents by masked phone."""

    def __init__(self, session: Session, staff_ids: set[int], parent_ids: set[int]):
        self.staff = dict(session.execute(select(StaffUser.id, StaffUser.display_name)
                                          .where(StaffUser.id.in_(staff_ids or {0}))).all())
        self.parents = {pid: mask_phone(phone) for pid, phone in session.execute(
            select(ParentAccount.id, ParentAccount.phone).where(ParentAccount.id.in_(parent_ids or {0})))}

    def of(self, kind: str | None, actor_id: int | None) -> str:
        if kind == "staff" and actor_id in self.staff:
            return self.staff[actor_id]
        if kind == "parent" and actor_id in self.parents:
            return f"家长 {self.parents[actor_id]}"
        if kind == "system" or not actor_id:
            return "系统"
        return f"{kind} #{actor_id}"


def load_archives(session: Session, student_ids: Sequence[int], campaign: Campaign | None) -> list[StudentArchive]:
    """The archives of ``student_ids`` (in that order) for ``campaign`` (None: a school without one yet)."""
    ids = list(student_ids)
    if not ids:
        return []
    students = {s.id: s for s in session.scalars(
        select(Student).where(Student.id.in_(ids)).options(selectinload(Student.members)))}
    class_ids = {s.class_id for s in students.values()}
    classes = {c.id: c for c in session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids))
                                                .options(selectinload(SchoolClass.school)))}
    confirmations: dict[int, Confirmation] = {}
    if campaign is not None:
        confirmations = {c.student_id: c for c in session.scalars(
            select(Confirmation).where(Confirmation.campaign_id == campaign.id, Confirmation.student_id.in_(ids))
            .options(selectinload(Confirmation.corrections)))}
    confirmation_ids = [c.id for c in confirmations.values()]
    events: dict[int, list[ConfirmationEvent]] = defaultdict(list)
    for event in session.scalars(select(ConfirmationEvent).where(
            ConfirmationEvent.confirmation_id.in_(confirmation_ids or [0])).order_by(ConfirmationEvent.id)):
        events[event.confirmation_id].append(event)
    files: dict[int, list[StoredFile]] = defaultdict(list)
    for stored in session.scalars(select(StoredFile).where(StoredFile.student_id.in_(ids))
                                  .order_by(StoredFile.created_at, StoredFile.id)):
        files[stored.student_id].append(stored)
    has_parent = set(session.scalars(select(Guardianship.student_id).where(Guardianship.student_id.in_(ids))))

    corrections = [c for conf in confirmations.values() for c in conf.corrections]
    targets = [("students", ids), ("confirmations", confirmation_ids),
               ("field_corrections", [c.id for c in corrections]),
               ("stored_files", [f.id for group in files.values() for f in group])]
    audits = list(session.scalars(select(AuditEvent).where(or_(*(
        and_(AuditEvent.target_type == kind, AuditEvent.target_id.in_(values))
        for kind, values in targets if values))).order_by(AuditEvent.at, AuditEvent.id)))

    staff_ids = {e.actor_id for e in audits if e.actor_kind == "staff" and e.actor_id}
    staff_ids |= {e.actor_id for group in events.values() for e in group if e.actor_kind == "staff"}
    staff_ids |= {c.decided_by_id for c in corrections if c.decided_by_id}
    staff_ids |= {c.requested_by_id for c in corrections if c.requested_by_kind == "staff"}
    parent_ids = {e.actor_id for e in audits if e.actor_kind == "parent" and e.actor_id}
    parent_ids |= {e.actor_id for group in events.values() for e in group if e.actor_kind == "parent"}
    parent_ids |= {c.requested_by_id for c in corrections if c.requested_by_kind == "parent"}
    names = _Names(session, staff_ids, parent_ids)

    owner: dict[tuple[str, int], int] = {("students", sid): sid for sid in ids}
    for conf in confirmations.values():
        owner[("confirmations", conf.id)] = conf.student_id
        for c in conf.corrections:
            owner[("field_corrections", c.id)] = conf.student_id
    for sid, group in files.items():
        for f in group:
            owner[("stored_files", f.id)] = sid
    audit_by_student: dict[int, list[AuditEvent]] = defaultdict(list)
    for event in audits:
        sid = owner.get((event.target_type, event.target_id))
        if sid is not None:
            audit_by_student[sid].append(event)

    archives = []
    for sid in ids:
        student = students.get(sid)
        if student is None:  # removed since the job was counted
            continue
        school_class = classes[student.class_id]
        conf = confirmations.get(sid)
        archives.append(_archive(student, school_class, campaign, conf, events.get(conf.id, []) if conf else [],
                                 files.get(sid, []), audit_by_student.get(sid, []), sid in has_parent, names))
    return archives


def _archive(student: Student, school_class: SchoolClass, campaign: Campaign | None, conf: Confirmation | None,
             events: list[ConfirmationEvent], files: list[StoredFile], audits: list[AuditEvent], has_parent: bool,
             names: _Names) -> StudentArchive:
    birth = student.value("birth_date")
    corrections = []
    for c in conf.corrections if conf else []:
        f = field_for(c.slot, c.field_key)
        label = f.label_zh if c.slot == 0 else f"{MEMBER_SECTION.label_zh} {c.slot} · {f.label_zh}"
        corrections.append(CorrectionLine(
            field=label, old=readable(f, c.old_value), new=readable(f, c.new_value),
            status=CORRECTION_LABELS.get(CorrectionStatus(c.status), c.status), is_key_data=c.is_key_data,
            requested_by=names.of(c.requested_by_kind, c.requested_by_id),
            decided_by=names.of("staff", c.decided_by_id) if c.decided_by_id else "", decided_at=c.decided_at,
            reason=c.decision_reason or ""))
    documents, counts = [], defaultdict(int)
    for f in files:
        counts[f.kind] += 1
        documents.append(Document(
            file_id=f.id, kind=f.kind, label=f"{DOCUMENT_LABELS.get(f.kind, f.kind)} {counts[f.kind]}",
            storage_key=f.storage_key, content_type=f.content_type, sha256=f.sha256, uploaded_at=f.created_at,
            is_current_sheet=conf is not None and conf.sheet_file_id == f.id))
    trail = [TrailEntry(e.at, names.of(e.actor_kind, e.actor_id), TRANSITION_LABELS.get(State(e.to_state), e.to_state),
                        e.note or "") for e in events]
    trail += [TrailEntry(e.at, names.of(e.actor_kind, e.actor_id), ACTION_LABELS.get(e.action, e.action),
                         str((e.detail or {}).get("reason") or "")) for e in audits]
    trail.sort(key=lambda entry: entry.at)
    key_returned = any(c.status == CorrectionStatus.REJECTED for c in conf.corrections) if conf else False
    stage = stage_of(conf.state if conf else None, has_parent, key_data_returned=key_returned)
    return StudentArchive(
        student_id=student.id, school_name=school_class.school.name, class_title=school_class.title,
        name=student.name, birth_date=readable(field_for(0, "birth_date"), birth), student_no=student_number(student),
        campaign_name=campaign.name if campaign else "", stage=STAGE_LABELS[stage], state=conf.state if conf else "",
        sections=_record_sections(student), corrections=corrections, documents=documents, trail=trail)
