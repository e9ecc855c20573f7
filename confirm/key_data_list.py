"""The key-data change list (关键数据变更清单) for keying into the national system: one row per change, the
students by school, grade and class, and each student's changes in the national template's order of fields
(姓名, 性别, 出生日期, 民族, 身份证件类型, 身份证件号 — the KD column order of confirm/fields.py).

The school's list holds every key-data change of its students that the school has dealt with or is dealing with;
the district's list holds the changes the schools of the district passed on to it (关键数据变更核办).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from confirm.clock import LOCAL_TZ_NAME, local_time
from confirm.exporting import CORRECTION_STATUS, _as_text, _header_cells, _save
from confirm.fields import KEY_DATA_KEYS, field_for
from confirm.models import Confirmation, District, FieldCorrection, School, SchoolClass, StaffUser, StoredFile, Student
from confirm.states import CorrectionStatus

HEADERS = ("学校标识码", "学校名称", "年级", "班级", "姓名", "身份证件号", "变更项", "变更前", "变更后",
           "证明材料（份）", "学校意见", "学校审核人", f"学校审核时间（{LOCAL_TZ_NAME}）", "主管部门", "主管部门审核人",
           f"主管部门审核时间（{LOCAL_TZ_NAME}）",
           "状态", "不通过原因")
LISTED = (CorrectionStatus.PENDING_ADMIN, CorrectionStatus.PENDING_DISTRICT, CorrectionStatus.APPLIED,
          CorrectionStatus.REJECTED)
# the national order of the key-data fields: their KD column
FIELD_ORDER = {key: field_for(0, key).kd or 99 for key in KEY_DATA_KEYS}


def _when(at) -> str:
    return local_time(at)


def _listed(query, *, school_id: int | None, district_id: int | None):
    """``query`` (from FieldCorrection) narrowed to the list's changes: one school's, or those passed on to one
    district (and those below it)."""
    from confirm.services.districts import subtree_select

    query = (
        query.join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(FieldCorrection.slot == 0, FieldCorrection.is_key_data,
               FieldCorrection.status.in_([s.value for s in LISTED]))
    )
    if school_id is not None:
        query = query.where(Student.school_id == school_id)
    if district_id is not None:
        query = query.where(FieldCorrection.school_passed_at.is_not(None),
                            FieldCorrection.district_id.in_(subtree_select(district_id)))
    return query


def students_by_school(session: Session, *, school_id: int | None = None,
                       district_id: int | None = None) -> dict[int, int]:
    """How many students the list holds, by school id (the schools with none are left out)."""
    query = select(Student.school_id, func.count(func.distinct(Student.id))).select_from(FieldCorrection)
    query = _listed(query, school_id=school_id, district_id=district_id).group_by(Student.school_id)
    return dict(session.execute(query).all())


def key_data_rows(session: Session, *, school_id: int | None = None, district_id: int | None = None) -> list[list]:
    """The list's rows for one school, or for the changes passed on to one district (and those below it)."""
    school_staff, district_staff = aliased(StaffUser), aliased(StaffUser)
    query = _listed(
        select(FieldCorrection, Student, SchoolClass, School, school_staff.display_name,
               district_staff.display_name, District.name).select_from(FieldCorrection),
        school_id=school_id, district_id=district_id,
    )
    query = (
        query.join(SchoolClass, SchoolClass.id == Student.class_id)
        .join(School, School.id == Student.school_id)
        .outerjoin(school_staff, school_staff.id == func.coalesce(FieldCorrection.school_passed_by_id,
                                                                   FieldCorrection.decided_by_id))
        .outerjoin(district_staff, district_staff.id == FieldCorrection.district_decided_by_id)
        .outerjoin(District, District.id == FieldCorrection.district_id)
    )
    found = session.execute(query).all()
    proofs = dict(session.execute(
        select(StoredFile.confirmation_id, func.count())
        .where(StoredFile.kind == "proof", StoredFile.confirmation_id.in_({c.confirmation_id for c, *_ in found}))
        .group_by(StoredFile.confirmation_id)).all()) if found else {}
    found.sort(key=lambda r: (r[3].code, r[2].grade, r[2].name, r[1].name, r[1].id, FIELD_ORDER.get(r[0].field_key,
                                                                                                     99)))
    # The student is found in the national system by the name and ID number it still holds there: the values
    # before any change the platform has applied already.
    before: dict[int, dict[str, str]] = {}
    for correction, student, *_rest in found:
        if correction.status == CorrectionStatus.APPLIED and correction.field_key in ("name", "id_number"):
            before.setdefault(student.id, {})[correction.field_key] = correction.old_value
    rows = []
    for correction, student, school_class, school, school_by, district_by, district_name in found:
        f = field_for(0, correction.field_key)
        old = before.get(student.id, {})
        rows.append([
            school.code, school.name, school_class.grade, school_class.name, old.get("name", student.name),
            old.get("id_number", student.id_number or ""), f.label_zh, f.display(correction.old_value),
            f.display(correction.new_value), proofs.get(correction.confirmation_id, 0), correction.school_opinion or "",
            school_by or "", _when(correction.school_passed_at or (
                None if correction.district_decided_at else correction.decided_at)),
            district_name or "", district_by or "", _when(correction.district_decided_at),
            CORRECTION_STATUS.get(correction.status, correction.status),
            correction.decision_reason if correction.status == CorrectionStatus.REJECTED else "",
        ])
    return rows


def key_data_workbook(session: Session, *, school_id: int | None = None, district_id: int | None = None) -> bytes:
    """The key-data change list as a workbook (everything as text, so ID numbers keep every digit)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("关键数据变更清单")
    sheet.append(_header_cells(sheet, HEADERS))
    for row in key_data_rows(session, school_id=school_id, district_id=district_id):
        sheet.append(_as_text(sheet, row))
    return _save(workbook)
