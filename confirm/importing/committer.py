"""Writing a checked import: all or nothing, in the caller's transaction, with an import report.

Existing students are matched by ID number (or, without one, by name + gender + birth date), so
importing the same file again updates the same students — and writes nothing when nothing changed.
Fields the running campaign changed keep the platform's value unless the admin chose the file's
(see ``conflicts``); what was kept and what was taken is reported with the run and audited per field.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from confirm.errors import DomainError, FieldErrors
from confirm.fields import MEMBER_SLOTS, field_for
from confirm.i18n import N_, Message
from confirm.importing.checker import CheckResult, ExistingStudents, ImportProblem, ParsedRow
from confirm.importing.conflicts import (
    KEEP_PLATFORM,
    Choices,
    Conflict,
    find_conflicts,
    record_conflicts,
    start_identities,
)
from confirm.models import FamilyMember, ImportRun, School, SchoolClass, Student, utcnow
from confirm.security import new_digits
from confirm.services.common import Actor, audit
from confirm.states import ConflictChoice, ImportStatus
from confirm.validation import validate_record

PROBLEMS_KEPT = 2000
UNGRADED = "未分年级"


def existing_students(session: Session, school_id: int) -> ExistingStudents:
    """A snapshot of the school's students for matching (one query, and one for the campaign's corrections).

    A student whose name, gender, birth date or ID number a correction of the running campaign changed is also
    found by the values of the campaign's start, which the national system's file still has; a student who has
    those values now comes first."""
    known = ExistingStudents()
    started = start_identities(session, school_id)
    before: list[tuple[int, dict]] = []
    rows = session.execute(select(Student.id, Student.id_number, Student.record).where(Student.school_id == school_id))
    for student_id, id_number, record in rows:
        _know(known, student_id, record, id_number, replace=True)
        if student_id in started:
            before.append((student_id, {**record, **started[student_id]}))
    for student_id, record in before:
        _know(known, student_id, record, record.get("id_number") or None, replace=False)
    return known


def _know(known: ExistingStudents, student_id: int, record: dict, id_number: str | None, *, replace: bool) -> None:
    person = (record.get("name", ""), record.get("gender", ""), record.get("birth_date", ""))
    pairs = [(known.by_id_number, id_number), (known.by_person_with_id, person)] if id_number \
        else [(known.by_person_without_id, person)]
    for index, key in pairs:
        if replace:
            index[key] = student_id
        else:
            index.setdefault(key, student_id)


def problems_payload(problems: list[ImportProblem], kept_rows: frozenset[int] = frozenset()) -> dict:
    """The problems as JSON for the import report (the first PROBLEMS_KEPT of them), and the rows whose values the
    admin chose to keep (checked again with them at commit)."""
    items = [
        {"row": p.row, "column": p.column, "value": p.value, "text": p.message.text, "params": p.message.params,
         "warning": p.is_warning, "keepable": p.is_keepable}
        for p in problems[:PROBLEMS_KEPT]
    ]
    return {"items": items, "truncated": max(0, len(problems) - PROBLEMS_KEPT), "kept_rows": sorted(kept_rows)}


class _Classes:
    """The school's classes by (grade, name) and by 班号, created on first need."""

    def __init__(self, session: Session, school: School):
        self.session, self.school = session, school
        self.by_name: dict[tuple[str, str], SchoolClass] = {}
        self.by_code: dict[str, SchoolClass] = {}
        for c in session.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)):
            self.by_name[(c.grade, c.name)] = c
            if c.class_code:
                self.by_code[c.class_code] = c
        self.created = 0

    def resolve(self, grade: str, name: str, code: str) -> SchoolClass:
        found = self.by_name.get((grade, name)) if grade and name else None
        if found is None and code:
            found = self.by_code.get(code)
        if found is None and not (grade and name):
            found = self.by_name.get((UNGRADED, code))
        if found is None:
            found = SchoolClass(school_id=self.school.id, grade=grade or UNGRADED, name=name or code,
                                class_code=code or None)
            self.session.add(found)
            self.session.flush()
            self.by_name[(found.grade, found.name)] = found
            if code:
                self.by_code[code] = found
            self.created += 1
        elif code and not found.class_code:
            found.class_code = code
            self.by_code[code] = found
        return found


def _merged(old: dict, new: dict, present: set[str], kept: list[Conflict] = ()) -> dict:
    """The stored record with the file's columns replaced (columns the file lacks are kept), except the fields whose
    conflict with the campaign keeps the platform's value."""
    merged = {k: v for k, v in old.items() if k not in present}
    merged.update(new)
    for conflict in kept:
        if conflict.platform:
            merged[conflict.key] = conflict.platform
        else:
            merged.pop(conflict.key, None)
    return merged


def _mixed_record_problems(row: ParsedRow, record: dict, members: dict[int, dict],
                           conflicts: list[Conflict]) -> list[tuple[str, Message]]:
    """What is wrong with a student's record once the platform's kept values and the file's taken ones are put
    together (e.g. the file's birth date with the platform's ID number): the record must hold as a whole."""
    relevant = {(c.slot, c.key) for c in conflicts}
    if relevant & _ID_LINKED:
        relevant |= _ID_LINKED
    problems = [p for p in validate_record(record, members) if not p.is_warning and (p.slot, p.key) in relevant]
    if not problems:
        return []
    where = Message(N_("第 %(row)s 行 %(name)s：按所选的值合在一起，信息不一致；请对相关的几项做同样的选择"
                       "（都保留平台的值，或都采用文件的值）"), {"row": row.row, "name": record.get("name", "")})
    return [("", where), *(("", p.message) for p in problems)]


_ID_LINKED = {(0, k) for k in ("id_type", "id_number", "birth_date", "gender")}


def commit_import(
    session: Session,
    school: School,
    result: CheckResult,
    *,
    actor: Actor,
    filename: str,
    sha256: str,
    run: ImportRun | None = None,
    now: datetime | None = None,
    conflicts: list[Conflict] | None = None,
    choices: Choices = KEEP_PLATFORM,
) -> ImportRun:
    """Write every row of a clean check; raise DomainError (and write nothing) if it has errors.

    ``conflicts`` (found here when not given) keep the platform's value unless ``choices`` takes the file's."""
    now = now or utcnow()
    if not result.is_clean:
        raise DomainError(Message(N_("文件还有 %(n)s 处错误，修改后才能导入"), {"n": len(result.errors)}))
    if conflicts is None:
        conflicts = find_conflicts(session, school.id, result)
    by_student: dict[int, list[Conflict]] = {}
    for conflict in conflicts:
        by_student.setdefault(conflict.student_id, []).append(conflict)
    refused: list = []
    classes = _Classes(session, school)
    present_student = {key for slot, key in result.present if slot == 0}
    # per member block: a file without the 成员2 columns keeps every stored member 2
    present_member = {slot: {key for s, key in result.present if s == slot} for slot in MEMBER_SLOTS}
    matched_ids = [r.match_id for r in result.rows if r.match_id is not None]
    students = {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(matched_ids)))} if matched_ids \
        else {}
    members: dict[tuple[int, int], FamilyMember] = {}
    if matched_ids:
        for m in session.scalars(select(FamilyMember).where(FamilyMember.student_id.in_(matched_ids))):
            members[(m.student_id, m.slot)] = m

    counts: Counter = Counter()
    new_rows: list[tuple[ParsedRow, SchoolClass]] = []
    for row in result.rows:
        school_class = classes.resolve(row.grade, row.class_name, row.class_code)
        if row.match_id is None:
            new_rows.append((row, school_class))
            continue
        student = students[row.match_id]
        mine = by_student.get(student.id, [])
        kept = [c for c in mine if not choices.takes_file(c)]
        changed = False
        record = _merged(student.record or {}, row.values, present_student, [c for c in kept if c.slot == 0])
        merged_members = {}
        for slot in MEMBER_SLOTS:
            member = members.get((student.id, slot))
            old = dict(member.record) if member else {}
            merged_members[slot] = (member, old, _merged(old, row.members[slot], present_member[slot],
                                                         [c for c in kept if c.slot == slot]))
        if mine:
            together = {slot: new for slot, (_member, _old, new) in merged_members.items()}
            refused += _mixed_record_problems(row, record, together, mine)
        if record != (student.record or {}):
            student.replace_record(record)
            changed = True
        if student.class_id != school_class.id:
            student.class_id = school_class.id
            changed = True
        for slot, (member, old, new) in merged_members.items():
            if new == old:
                continue
            changed = True
            if member is None:
                session.add(FamilyMember(student_id=student.id, slot=slot, record=new))
            else:
                member.record = new
        counts["updated" if changed else "unchanged"] += 1
    if refused:
        raise FieldErrors(refused)

    if new_rows:
        taken = set(session.scalars(select(Student.upload_no)))
        payload = []
        for row, school_class in new_rows:
            while (upload_no := new_digits(10)) in taken:
                pass
            taken.add(upload_no)
            payload.append({
                "school_id": school.id, "class_id": school_class.id, "name": row.values.get("name", ""),
                "id_number": row.values.get("id_number") or None, "upload_no": upload_no, "record": row.values,
                "created_at": now, "updated_at": now,
            })
        ids = session.scalars(
            insert(Student).returning(Student.id, sort_by_parameter_order=True), payload
        ).all()
        member_payload = [
            {"student_id": student_id, "slot": slot, "record": row.members[slot]}
            for student_id, (row, _c) in zip(ids, new_rows, strict=True)
            for slot in MEMBER_SLOTS
            if row.members[slot]
        ]
        if member_payload:
            session.execute(insert(FamilyMember), member_payload)
        counts["created"] = len(new_rows)

    if run is None:
        run = ImportRun(school_id=school.id, created_by_id=actor.id if actor.kind == "staff" else None,
                        filename=filename[:200], sha256=sha256, created_at=now)
        session.add(run)
    run.status = ImportStatus.COMMITTED.value
    run.committed_at = now
    run.total_rows = result.total_rows
    run.error_count = 0
    run.warning_count = len(result.warnings)
    run.created_count = counts["created"]
    run.updated_count = counts["updated"]
    run.unchanged_count = counts["unchanged"]
    run.rejected_count = 0
    run.problems = problems_payload(result.problems, result.kept_rows)
    run.conflict_choice = choices.whole_file.value
    session.flush()
    record_conflicts(session, run, conflicts, choices)
    taken = 0
    for c in conflicts:
        took = choices.takes_file(c)
        taken += took
        audit(session, actor, "import_conflict.file_taken" if took else "import_conflict.kept", school_id=school.id,
              target=students[c.student_id], at=now, detail={
                  "run_id": run.id, "row": c.row, "field": f"{c.slot}.{c.key}", "label": _label(c),
                  "correction_id": c.correction_id, "correction_status": c.status,
                  "kept": (ConflictChoice.FILE if took else ConflictChoice.PLATFORM).value,
                  "start": c.start, "file": c.file, "platform": c.platform})
    audit(session, actor, "students.imported", school_id=school.id, target=run,
          detail={"created": run.created_count, "updated": run.updated_count, "unchanged": run.unchanged_count,
                  "classes_created": classes.created, "conflicts": len(conflicts), "file_values_taken": taken,
                  "platform_values_kept": len(conflicts) - taken}, at=now)
    return run


def _label(c: Conflict) -> str:
    f = field_for(c.slot, c.key)
    return f.label_zh if c.slot == 0 else f"成员{c.slot}{f.label_zh}"


def record_rejected_check(
    session: Session, school: School, result: CheckResult, *, actor: Actor, filename: str, sha256: str,
    storage_key: str | None = None, now: datetime | None = None, conflicts: list[Conflict] = (),
) -> ImportRun:
    """Keep the report of a check (status checked when clean, rejected when it has errors); a clean check keeps its
    conflicts with the campaign for the admin to choose."""
    run = ImportRun(
        school_id=school.id, created_by_id=actor.id if actor.kind == "staff" else None, filename=filename[:200],
        sha256=sha256, storage_key=storage_key,
        status=(ImportStatus.CHECKED if result.is_clean else ImportStatus.REJECTED).value,
        total_rows=result.total_rows, error_count=len(result.errors), warning_count=len(result.warnings),
        rejected_count=len({p.row for p in result.errors}),
        problems=problems_payload(result.problems, result.kept_rows),
        created_at=now or utcnow(),
    )
    session.add(run)
    session.flush()
    if result.is_clean:
        record_conflicts(session, run, list(conflicts))
    return run
