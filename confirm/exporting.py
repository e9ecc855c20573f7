"""Export in the national template layout (names, not codes; everything as text) and the change list."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.clock import LOCAL_TZ_NAME, local_time
from confirm.fields import field_for
from confirm.models import (
    Campaign,
    Confirmation,
    FamilyMember,
    FieldCorrection,
    ImportConflict,
    ImportRun,
    ParentAccount,
    School,
    SchoolClass,
    StaffUser,
    StoredFile,
    Student,
)
from confirm.presentation import stable_identifier
from confirm.services.namesakes import student_labels
from confirm.states import ConflictChoice, CorrectionStatus, ImportStatus
from confirm.template import CLASS_CODE, CLASS_NAME, EXPORT_COLUMNS, GRADE

CORRECTION_STATUS = {
    CorrectionStatus.DRAFT: "家长未提交",
    CorrectionStatus.SUBMITTED: "待班主任审核",
    CorrectionStatus.APPLIED: "已生效",
    CorrectionStatus.PENDING_ADMIN: "待学籍管理员审核",
    CorrectionStatus.PENDING_DISTRICT: "待主管部门核办",
    CorrectionStatus.REJECTED: "已驳回",
    CorrectionStatus.WITHDRAWN: "家长已撤回",
}


def _save(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _header_cells(sheet, texts: Iterable[str]) -> list[WriteOnlyCell]:
    cells = []
    for text in texts:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _as_text(sheet, values: list) -> list:
    """The row with text starting with "=" kept as text (openpyxl would write it as a live formula)."""
    if not any(isinstance(v, str) and v.startswith("=") for v in values):
        return values
    out = []
    for value in values:
        if isinstance(value, str) and value.startswith("="):
            value = WriteOnlyCell(sheet, value=value)
            value.data_type = "s"
        out.append(value)
    return out


def student_rows(session: Session, school: School, school_class: SchoolClass | None = None):
    """Each student of the school (or class) as the template's row of texts, in class and name order."""
    query = (
        select(Student, SchoolClass)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.school_id == school.id)
        .order_by(SchoolClass.grade, SchoolClass.name, Student.name, Student.id)
    )
    if school_class is not None:
        query = query.where(Student.class_id == school_class.id)
    pairs = session.execute(query).all()
    members: dict[int, dict[int, dict]] = defaultdict(dict)
    ids = [s.id for s, _ in pairs]
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for m in session.scalars(select(FamilyMember).where(FamilyMember.student_id.in_(chunk))):
            members[m.student_id][m.slot] = m.record or {}
    for student, school_class_ in pairs:
        record = student.record or {}
        row = []
        for column in EXPORT_COLUMNS:
            if column.special == CLASS_CODE:
                row.append(school_class_.class_code or "")
            elif column.special == GRADE:
                row.append(school_class_.grade)
            elif column.special == CLASS_NAME:
                row.append(school_class_.name)
            else:
                source = record if column.slot == 0 else members[student.id].get(column.slot, {})
                row.append(column.field.display(source.get(column.field.key, "")))
        yield row


def export_students(session: Session, school: School, school_class: SchoolClass | None = None) -> bytes:
    """The workbook: row 1 KD codes, row 2 headers, then one row per student."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("学生信息")
    sheet.append([c.code for c in EXPORT_COLUMNS])
    sheet.append(_header_cells(sheet, [c.header for c in EXPORT_COLUMNS]))
    for row in student_rows(session, school, school_class):
        sheet.append(_as_text(sheet, row))
    return _save(workbook)


def count_students(session: Session, school: School, school_class: SchoolClass | None = None) -> int:
    """How many students ``export_students`` writes for the school (or class)."""
    query = select(func.count(Student.id)).where(Student.school_id == school.id)
    if school_class is not None:
        query = query.where(Student.class_id == school_class.id)
    return session.scalar(query) or 0


def count_changed_students(session: Session, school: School, campaign: Campaign | None = None) -> tuple[int, int]:
    """How many students and corrections ``export_changes`` lists."""
    query = (
        select(func.count(func.distinct(Confirmation.student_id)), func.count(FieldCorrection.id))
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(Student.school_id == school.id)
    )
    if campaign is not None:
        query = query.where(Confirmation.campaign_id == campaign.id)
    students, corrections = session.execute(query).one()
    return students or 0, corrections or 0


# Times are Beijing time, named in the header; 学生标识 names the student for good (see stable_identifier).
CHANGE_HEADERS = ("班级", "学生姓名", "信息项", "原信息", "更正为", "关键信息", "申请人", "状态", "证明材料",
                  "审核人", f"审核时间（{LOCAL_TZ_NAME}）", "再次导入", "学生标识")


def student_identifier(student: Student, school_class: SchoolClass) -> str:
    """The export's stable identifier of ``student`` (学籍辅号 when the school has it; see stable_identifier)."""
    record = student.record or {}
    return stable_identifier(school_class.title, student.name, record.get("birth_date") or "",
                             record.get("aux_student_no") or "")


def _reimports(session: Session, correction_ids: list[int]) -> dict[int, tuple[str, str, object]]:
    """For each correction a committed import met with a different value: the newest such import's
    (choice, the file's value, when)."""
    found: dict[int, tuple[str, str, object]] = {}
    for start in range(0, len(correction_ids), 5000):
        chunk = correction_ids[start:start + 5000]
        rows = session.execute(
            select(ImportConflict.correction_id, ImportConflict.choice, ImportConflict.file_value,
                   ImportRun.committed_at)
            .join(ImportRun, ImportRun.id == ImportConflict.run_id)
            .where(ImportRun.status == ImportStatus.COMMITTED.value, ImportConflict.correction_id.in_(chunk))
            .order_by(ImportRun.committed_at, ImportConflict.id))
        for correction_id, choice, file_value, at in rows:
            found[correction_id] = (choice, file_value, at)
    return found


def _reimport_text(f, outcome: tuple[str, str, object] | None) -> str:
    if outcome is None:
        return ""
    choice, file_value, at = outcome
    when = f"{local_time(at)}（{LOCAL_TZ_NAME}）" if at else ""
    value = f.display(file_value) or "（空）"
    if choice == ConflictChoice.FILE:
        return f"{when} 导入时采用了文件的值“{value}”"
    return f"{when} 导入时保留了平台的值（文件中为“{value}”）"


def export_changes(session: Session, school: School, campaign: Campaign | None = None) -> bytes:
    """Every correction of the school's campaign(s): who asked, what changed, its state, who decided, and what the
    last re-import that met it with another value kept."""
    query = (
        select(FieldCorrection, Confirmation, Student, SchoolClass)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.school_id == school.id)
        .order_by(SchoolClass.grade, SchoolClass.name, Student.name, FieldCorrection.slot, FieldCorrection.id)
    )
    if campaign is not None:
        query = query.where(Confirmation.campaign_id == campaign.id)
    rows = session.execute(query).all()
    parents = dict(session.execute(select(ParentAccount.id, ParentAccount.platform_no)).all()) if rows else {}
    staff = dict(session.execute(select(StaffUser.id, StaffUser.display_name).where(
        StaffUser.school_id == school.id)).all()) if rows else {}
    proofs = dict(session.execute(
        select(StoredFile.student_id, func.count()).where(StoredFile.school_id == school.id, StoredFile.kind == "proof")
        .group_by(StoredFile.student_id)).all()) if rows else {}
    reimports = _reimports(session, [c.id for c, *_ in rows])
    labels = student_labels(session, {school_class.id for *_, school_class in rows})
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("更正清单")
    sheet.append(_header_cells(sheet, CHANGE_HEADERS))
    for correction, _confirmation, student, school_class in rows:
        f = field_for(correction.slot, correction.field_key)
        label = f.label_zh if correction.slot == 0 else f"成员{correction.slot}{f.label_zh}"
        if correction.requested_by_kind == "parent":
            requester = f"家长（平台号 {parents.get(correction.requested_by_id, '?')}）"
        else:
            requester = staff.get(correction.requested_by_id, "学校")
        status = CORRECTION_STATUS.get(correction.status, correction.status)
        sheet.append(_as_text(sheet, [
            school_class.title, str(labels(student)), label, f.display(correction.old_value),
            f.display(correction.new_value),
            "是" if correction.is_key_data else "否", requester, status, proofs.get(student.id, 0),
            staff.get(correction.decided_by_id, "") if correction.decided_by_id else "",
            local_time(correction.decided_at),
            _reimport_text(f, reimports.get(correction.id)),
            student_identifier(student, school_class),
        ]))
    return _save(workbook)
