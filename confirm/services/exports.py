"""Bulk exports of personal data and views of stored photos, each with its audit row: who, what, how many students
(or which student). The exports themselves are built by ``confirm.exporting`` and friends; a use case here builds
one and records it in the same unit of work, so a file handed out always has its row.

The "export taken" of a campaign (``EXPORT_TAKEN``) is the change list or the whole-school student list exported
after the campaign closed: the retention command (``confirm.services.retention``) waits for it.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from confirm.exporting import count_changed_students, count_students, export_changes, export_students
from confirm.importing.annotate import annotated_workbook
from confirm.importing.service import check_file
from confirm.key_data_list import key_data_workbook as build_key_data_workbook
from confirm.key_data_list import students_by_school
from confirm.models import BatchItem, Campaign, District, ImportRun, School, SchoolClass, StoredFile, Student
from confirm.services.common import Actor, audit


class AuditAction(StrEnum):
    """The audit actions of exports and views of stored files."""

    STUDENTS_EXPORTED = "export.students"  # the national template: every field of each student and family member
    CHANGES_EXPORTED = "export.changes"  # 更正清单
    IMPORT_ANNOTATED = "export.import_annotated"  # the admin's import file, problems marked
    CLASS_STATS_EXPORTED = "export.class_stats"  # names and stages of one class
    AUDIT_LOG_EXPORTED = "export.audit_log"
    KEY_DATA_EXPORTED = "export.key_data"  # 关键数据变更清单: names and full ID numbers of the students changed
    FILE_VIEWED = "file.viewed"  # a stored sheet photo or proof document of one student
    BATCH_PHOTO_VIEWED = "batch_photo.viewed"  # a photo of a batch upload not yet filed to a student


# Exports that stand for "the campaign's results were taken out of the platform".
EXPORT_TAKEN = (AuditAction.CHANGES_EXPORTED.value, AuditAction.STUDENTS_EXPORTED.value)


def students_workbook(session: Session, school: School, school_class: SchoolClass | None, *, actor: Actor,
                      campaign: Campaign | None = None) -> bytes:
    """The national-template export of the school (or one class), audited with the number of students."""
    data = export_students(session, school, school_class)
    detail = {"students": count_students(session, school, school_class),
              "scope": "class" if school_class is not None else "school"}
    if school_class is not None:
        detail["class_id"] = school_class.id
    if campaign is not None:
        detail["campaign_id"] = campaign.id
    audit(session, actor, AuditAction.STUDENTS_EXPORTED, school_id=school.id, target=school_class or school,
          detail=detail)
    session.flush()
    return data


def changes_workbook(session: Session, school: School, campaign: Campaign | None, *, actor: Actor) -> bytes:
    """The change list (更正清单) of the school's campaign, audited with the numbers of students and corrections."""
    data = export_changes(session, school, campaign)
    students, corrections = count_changed_students(session, school, campaign)
    audit(session, actor, AuditAction.CHANGES_EXPORTED, school_id=school.id, target=campaign or school,
          detail={"students": students, "corrections": corrections,
                  "campaign_id": campaign.id if campaign else None})
    session.flush()
    return data


def key_data_workbook(session: Session, *, actor: Actor, school: School | None = None,
                      district: District | None = None) -> bytes:
    """The key-data change list (关键数据变更清单) of one school, or of the changes passed on to one district,
    audited with one row per school in the file, each with that school's number of students."""
    school_id = school.id if school is not None else None
    district_id = district.id if district is not None else None
    data = build_key_data_workbook(session, school_id=school_id, district_id=district_id)
    counts = students_by_school(session, school_id=school_id, district_id=district_id)
    if school is not None:
        counts.setdefault(school.id, 0)  # the school's own export is audited even when the list is empty
    for listed_school_id, students in sorted(counts.items()):
        detail = {"students": students, "scope": "district" if district is not None else "school"}
        if district is not None:
            detail["district_id"] = district.id
        audit(session, actor, AuditAction.KEY_DATA_EXPORTED, school_id=listed_school_id,
              target=district if district is not None else school, detail=detail)
    session.flush()
    return data


def annotated_import(session: Session, school: School, run: ImportRun, data: bytes, *, actor: Actor) -> bytes:
    """The admin's import file with its problems marked, audited with its number of rows (students)."""
    result = check_file(session, school, data, run.filename)
    workbook = annotated_workbook(data, run.filename, result)
    audit(session, actor, AuditAction.IMPORT_ANNOTATED, school_id=school.id, target=run,
          detail={"students": result.total_rows})
    session.flush()
    return workbook


def record_class_export(session: Session, school_class: SchoolClass, *, students: int, actor: Actor,
                        action: AuditAction = AuditAction.CLASS_STATS_EXPORTED) -> None:
    """Audit an export of one class's students (``students`` of them)."""
    audit(session, actor, action, school_id=school_class.school_id, target=school_class,
          detail={"students": students, "class_id": school_class.id})
    session.flush()


def record_file_view(session: Session, stored: StoredFile, *, actor: Actor, thumbnail: bool = False) -> None:
    """Audit one view of a student's stored photo or proof document."""
    student = session.get(Student, stored.student_id) if stored.student_id is not None else None
    audit(session, actor, AuditAction.FILE_VIEWED, school_id=stored.school_id, target=student,
          detail={"file_id": stored.id, "kind": stored.kind, "thumbnail": thumbnail, "students": 1})
    session.flush()


def record_batch_photo_view(session: Session, item: BatchItem, school_id: int, *, actor: Actor) -> None:
    """Audit one view of a batch photo that is not yet filed to a student (no student known yet)."""
    audit(session, actor, AuditAction.BATCH_PHOTO_VIEWED, school_id=school_id, target=item,
          detail={"batch_id": item.batch_id})
    session.flush()
