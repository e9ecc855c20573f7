"""A re-import merges, it never overwrites the campaign: fields the running campaign changed (a correction applied, or
one still to be decided) keep the platform's value unless the admin takes the file's, per field or for the whole
file; the import report, the audit trail and the change list say what was kept."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from benchmarks._template import student_row
from confirm.errors import FieldErrors
from confirm.exporting import CHANGE_HEADERS, export_changes, export_students
from confirm.importing.checker import OtherSchoolFile
from confirm.importing.conflicts import (
    PAGE_SIZE,
    TAKE_FILE,
    ConflictCounts,
    choose,
    chosen,
    conflict_counts,
    conflict_page,
)
from confirm.importing.service import check_upload, commit_checked, import_file
from confirm.models import (
    AuditEvent,
    Campaign,
    FieldCorrection,
    ImportConflict,
    ImportRun,
    School,
    Student,
)
from confirm.services import keydata, proofs, records, review
from confirm.services.common import SYSTEM, Actor
from confirm.services.files import record_file
from confirm.validation import make_resident_id
from tests.confirm.test_import_commit import HEADERS, by_id_number, col, counts, record_writes, rows, xlsx
from tests.factories import make_campaign, make_parent, make_school, make_staff
from tests.fakes import MemoryStore

SCHOOL = "5200000001"
TODAY = date(2026, 3, 1)
NEW_ADDRESS = "贵阳市新家路8号"
FILE_ADDRESS = "测试市文件里的新地址9号"


@dataclass
class Env:
    school: School
    campaign: Campaign
    teacher: Actor
    admin: Actor
    parent: Actor
    student: Student  # row 0 of the original workbook (民族 回族)
    original: bytes  # the national system's workbook imported before the campaign
    data: list[list]


@pytest.fixture
def env(session) -> Env:
    school = make_school(session, code=SCHOOL)
    teacher = make_staff(session, school)
    admin = make_staff(session, school, role="school_admin")
    session.commit()
    data = rows(3)
    data[0][col("民族")] = "回族"
    original = xlsx(data)
    run_import(session, school, original)
    campaign = make_campaign(session, school)
    student = by_id_number(session, school)[data[0][col("身份证件号")]]
    parent = make_parent(session, student)
    session.commit()
    return Env(school, campaign, Actor("staff", teacher.id), Actor("staff", admin.id), Actor("parent", parent.id),
               student, original, data)


def run_import(session, school, data: bytes, **options):
    outcome = import_file(session, school, data, "学生.xlsx", actor=SYSTEM, commit=True, today=TODAY, **options)
    session.commit()
    return outcome


def hand_in(session, env: Env, entries: dict, *, proof: bool = False):
    """The parent's corrections and signed sheet, handed in (state submitted)."""
    confirmation = records.ensure_confirmation(session, env.campaign, env.student)
    records.save_corrections(session, confirmation, entries, actor=env.parent)
    if proof:
        proofs.add_proof(session, confirmation, proofs.ProofUpload(b"%PDF-1.4 x %%EOF", "ab" * 32, "application/pdf"),
                         store=MemoryStore(), actor=env.parent)
    sheet = record_file(session, env.student, kind="sheet", storage_key=f"sheet/{uuid.uuid4().hex}.jpg",
                        sha256=uuid.uuid4().hex * 2, content_type="image/jpeg", size_bytes=1000, width=800,
                        height=600, actor=env.parent)
    review.submit_confirmation(session, confirmation, sheet, actor=env.parent)
    session.commit()
    return confirmation


def approve_address_and_ethnicity(session, env: Env):
    """现住址 approved by the head teacher, 民族 回族→苗族 (with a proof) approved by the school admin."""
    confirmation = hand_in(session, env, {(0, "current_address"): NEW_ADDRESS, (0, "ethnicity"): "06"}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env.teacher)
    [key_data] = [c for c in confirmation.corrections if c.field_key == "ethnicity"]
    keydata.approve_key_correction(session, key_data, actor=env.admin)
    session.commit()
    assert sorted(c.status for c in confirmation.corrections) == ["applied", "applied"]
    return confirmation


def applied(session, env: Env, student: Student, changes: dict[tuple[int, str], str]) -> None:
    """Corrections written straight into the record as applied (for cases the full review adds nothing to)."""
    confirmation = records.ensure_confirmation(session, env.campaign, student)
    for (slot, key), value in changes.items():
        confirmation.corrections.append(FieldCorrection(
            slot=slot, field_key=key, old_value=student.value(key), new_value=value, is_key_data=False,
            status="applied", requested_by_kind="parent", requested_by_id=0))
        student.set_value(key, value)
    session.commit()


def exported_row(session, env: Env, student: Student) -> dict[str, str]:
    """The student's row of the school's export, by header."""
    sheet = load_workbook(io.BytesIO(export_students(session, env.school))).active
    for values in sheet.iter_rows(min_row=3, values_only=True):
        if values[col("身份证件号")] == student.id_number:
            return dict(zip(HEADERS, values, strict=True))
    raise AssertionError("student not exported")


def change_list(session, env: Env) -> dict[str, dict[str, str]]:
    """The change list's rows by 信息项."""
    sheet = load_workbook(io.BytesIO(export_changes(session, env.school, env.campaign))).active
    lines = list(sheet.iter_rows(values_only=True))
    assert list(lines[0]) == list(CHANGE_HEADERS)
    return {line[2]: dict(zip(CHANGE_HEADERS, line, strict=True)) for line in lines[1:]}


def conflicts_of(session, run: ImportRun) -> list[tuple]:
    return [tuple(r) for r in session.execute(
        select(ImportConflict.slot, ImportConflict.field_key, ImportConflict.start_value, ImportConflict.file_value,
               ImportConflict.platform_value, ImportConflict.correction_status, ImportConflict.choice)
        .where(ImportConflict.run_id == run.id).order_by(ImportConflict.id))]


def audited(session, action_prefix: str = "import_conflict.") -> list[tuple[str, str, str]]:
    return [(e.action, e.detail["field"], e.detail["kept"]) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.action.startswith(action_prefix)).order_by(AuditEvent.id))]


def fresh(session, student: Student) -> Student:
    session.expire_all()
    return session.get(Student, student.id)


# --- the measure: approved changes survive a re-import of the original workbook --------------------------------


def test_reimporting_the_original_workbook_keeps_an_approved_address_and_an_approved_key_data_change(session, env):
    approve_address_and_ethnicity(session, env)

    outcome = run_import(session, env.school, env.original)

    student = fresh(session, env.student)
    assert (student.value("current_address"), student.value("ethnicity")) == (NEW_ADDRESS, "06")
    exported = exported_row(session, env, student)
    assert (exported["现住址"], exported["民族"]) == (NEW_ADDRESS, "苗族")
    run = outcome.run
    assert (run.status, run.created_count, run.updated_count, run.unchanged_count) == ("committed", 0, 0, 3)
    original_address = env.data[0][col("现住址")]
    assert conflicts_of(session, run) == [
        (0, "ethnicity", "03", "03", "06", "applied", "platform"),
        (0, "current_address", original_address, original_address, NEW_ADDRESS, "applied", "platform"),
    ]
    assert audited(session) == [("import_conflict.kept", "0.ethnicity", "platform"),
                                ("import_conflict.kept", "0.current_address", "platform")]
    summary = session.scalars(select(AuditEvent).where(AuditEvent.action == "students.imported")
                              .order_by(AuditEvent.id)).all()[-1]
    assert (summary.detail["conflicts"], summary.detail["platform_values_kept"],
            summary.detail["file_values_taken"]) == (2, 2, 0)
    changes = change_list(session, env)
    assert changes["现住址"]["状态"] == changes["民族"]["状态"] == "已生效"
    assert "导入时保留了平台的值（文件中为“回族”）" in changes["民族"]["再次导入"]
    assert f"导入时保留了平台的值（文件中为“{original_address}”）" in changes["现住址"]["再次导入"]


def test_choosing_the_files_value_for_one_field_applies_only_that_field_and_is_audited(session, env):
    approve_address_and_ethnicity(session, env)
    before = dict(fresh(session, env.student).record)
    store = MemoryStore()
    run = check_upload(session, env.school, env.original, "学生.xlsx", store=store, actor=env.admin)
    session.commit()
    assert run.status == "checked"
    page = conflict_page(session, run)
    assert [(c.field_key, choice) for c, _s, _k, choice in page.items] == [("ethnicity", "platform"),
                                                                          ("current_address", "platform")]
    address = next(c for c, *_ in page.items if c.field_key == "current_address")

    assert choose(session, run, actor=env.admin, fields={address.id: "file"}) == 1
    session.commit()
    new = commit_checked(session, run, env.school, store=store, actor=env.admin)
    session.commit()

    student = fresh(session, env.student)
    assert student.value("current_address") == env.data[0][col("现住址")]
    assert student.value("ethnicity") == "06"
    assert {k: v for k, v in student.record.items() if k != "current_address"} == \
        {k: v for k, v in before.items() if k != "current_address"}
    assert (new.status, new.updated_count, new.unchanged_count) == ("committed", 1, 2)
    assert [(key, choice) for _slot, key, *_values, choice in conflicts_of(session, new)] == [
        ("ethnicity", "platform"), ("current_address", "file")]
    assert audited(session) == [("import_conflict.kept", "0.ethnicity", "platform"),
                                ("import_conflict.file_taken", "0.current_address", "file")]
    taken = session.scalar(select(AuditEvent).where(AuditEvent.action == "import_conflict.file_taken"))
    assert (taken.actor_id, taken.target_type, taken.target_id) == (env.admin.id, "students", student.id)
    assert (taken.detail["start"], taken.detail["file"], taken.detail["platform"]) == (
        env.data[0][col("现住址")], env.data[0][col("现住址")], NEW_ADDRESS)
    changes = change_list(session, env)
    assert f"导入时采用了文件的值“{env.data[0][col('现住址')]}”" in changes["现住址"]["再次导入"]
    assert "保留了平台的值" in changes["民族"]["再次导入"]


# --- pending corrections --------------------------------------------------------------------------------------


def test_a_pending_correction_survives_a_reimport_and_stays_pending(session, env):
    confirmation = hand_in(session, env, {(0, "current_address"): NEW_ADDRESS})

    outcome = run_import(session, env.school, env.original)

    assert outcome.conflicts == []  # the file agrees with the platform: nothing to choose
    session.expire_all()
    [correction] = session.get(type(confirmation), confirmation.id).corrections
    assert (correction.status, correction.new_value) == ("submitted", NEW_ADDRESS)
    review.approve_confirmation(session, correction.confirmation, actor=env.teacher)
    session.commit()
    assert fresh(session, env.student).value("current_address") == NEW_ADDRESS


def test_a_key_data_change_waiting_for_the_admin_survives_a_reimport(session, env):
    confirmation = hand_in(session, env, {(0, "ethnicity"): "06"}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env.teacher)
    session.commit()

    run_import(session, env.school, env.original)

    pending = keydata.pending_correction_for(session, fresh(session, env.student), "ethnicity")
    assert pending is not None and pending.new_value == "06"
    keydata.approve_key_correction(session, pending, actor=env.admin)
    session.commit()
    assert fresh(session, env.student).value("ethnicity") == "06"


@pytest.mark.parametrize(("take_file", "expected"), [(False, "original"), (True, FILE_ADDRESS)])
def test_a_file_that_differs_on_a_pending_field_keeps_the_correction_pending_whichever_value_is_taken(
        session, env, take_file, expected):
    confirmation = hand_in(session, env, {(0, "current_address"): NEW_ADDRESS})
    changed = [list(r) for r in env.data]
    changed[0][col("现住址")] = FILE_ADDRESS
    original_address = env.data[0][col("现住址")]

    outcome = run_import(session, env.school, xlsx(changed), **({"choices": TAKE_FILE} if take_file else {}))

    assert conflicts_of(session, outcome.run) == [
        (0, "current_address", original_address, FILE_ADDRESS, original_address, "submitted",
         "file" if take_file else "platform")]
    stored = session.scalar(select(ImportConflict.corrected_value).where(ImportConflict.run_id == outcome.run.id))
    assert stored == NEW_ADDRESS  # the parent's value, still waiting, is shown with the conflict
    assert fresh(session, env.student).value("current_address") == (
        original_address if expected == "original" else expected)
    session.expire_all()
    [correction] = session.get(type(confirmation), confirmation.id).corrections
    assert correction.status == "submitted"
    review.approve_confirmation(session, correction.confirmation, actor=env.teacher)
    session.commit()
    assert fresh(session, env.student).value("current_address") == NEW_ADDRESS  # the parent's correction still wins


# --- what is not a conflict ------------------------------------------------------------------------------------


def test_reimporting_the_platforms_own_export_after_approved_corrections_changes_nothing(session, env):
    approve_address_and_ethnicity(session, env)
    exported = export_students(session, env.school)

    with record_writes(session) as writes:
        outcome = run_import(session, env.school, exported)

    assert writes == []
    assert outcome.result.problems == [] and outcome.conflicts == []
    assert (outcome.run.created_count, outcome.run.updated_count, outcome.run.unchanged_count) == (0, 0, 3)
    assert session.scalar(select(func.count()).select_from(ImportConflict)) == 0


def test_fields_the_campaign_did_not_touch_are_updated_from_the_file(session, env):
    approve_address_and_ethnicity(session, env)
    changed = [list(r) for r in env.data]
    changed[0][col("特长")] = "书法"

    outcome = run_import(session, env.school, xlsx(changed))

    student = fresh(session, env.student)
    assert (student.value("specialty"), student.value("current_address"), student.value("ethnicity")) == (
        "书法", NEW_ADDRESS, "06")
    assert outcome.run.updated_count == 1 and len(outcome.conflicts) == 2


def test_a_rejected_correction_or_a_finished_campaign_is_no_conflict(session, env):
    confirmation = hand_in(session, env, {(0, "ethnicity"): "06"}, proof=True)
    review.approve_confirmation(session, confirmation, actor=env.teacher)
    keydata.reject_key_correction(session, confirmation.corrections[0], "户口簿上是回族", actor=env.admin)
    session.commit()
    assert run_import(session, env.school, env.original).conflicts == []

    classmate = by_id_number(session, env.school)[env.data[1][col("身份证件号")]]
    applied(session, env, classmate, {(0, "current_address"): NEW_ADDRESS})
    env.campaign.is_active = False  # the campaign is over: the national system's file is the record again
    session.commit()
    outcome = run_import(session, env.school, env.original)
    assert outcome.conflicts == [] and outcome.run.updated_count == 1


# --- matching a student whose identity the campaign corrected --------------------------------------------------


def test_a_student_whose_id_number_was_corrected_is_found_by_the_old_one_not_added_again(session, env):
    new_id = make_resident_id("520102", date(2008, 1, 1), 7, "2")  # row 0: born 2008-01-01, female
    applied(session, env, env.student, {(0, "id_number"): new_id})

    outcome = run_import(session, env.school, env.original)

    assert counts(session, env.school)[0] == 3 and outcome.run.created_count == 0
    assert fresh(session, env.student).id_number == new_id
    assert [(c.key, c.file, c.platform) for c in outcome.conflicts] == [
        ("id_number", env.data[0][col("身份证件号")], new_id)]


def test_choices_that_break_the_record_together_are_refused_and_nothing_is_written(session, env):
    new_birth = date(2008, 2, 2)
    applied(session, env, env.student, {(0, "birth_date"): f"{new_birth:%Y%m%d}",
                                        (0, "id_number"): make_resident_id("520102", new_birth, 0, "2")})
    store = MemoryStore()
    run = check_upload(session, env.school, env.original, "学生.xlsx", store=store, actor=env.admin)
    session.commit()
    birth = next(c for c, *_ in conflict_page(session, run).items if c.field_key == "birth_date")

    with pytest.raises(FieldErrors) as refused:
        commit_checked(session, run, env.school, store=store, actor=env.admin, fields={birth.id: "file"})
    session.rollback()

    texts = [str(m) for _f, m in refused.value.errors]
    assert "第 3 行" in texts[0] and "信息不一致" in texts[0] and len(texts) >= 2
    session.expire_all()
    assert session.get(ImportRun, run.id).status == "checked"
    assert session.scalar(select(ImportConflict.choice).where(ImportConflict.id == birth.id)) is None
    assert fresh(session, env.student).value("birth_date") == "20080202"


# --- the admin's choices ---------------------------------------------------------------------------------------


def test_the_whole_files_choice_covers_every_conflict_and_a_field_may_still_be_chosen_otherwise(session, env):
    students = by_id_number(session, env.school)
    for row in env.data:
        applied(session, env, students[row[col("身份证件号")]], {(0, "current_address"): NEW_ADDRESS})
    run = import_file(session, env.school, env.original, "学生.xlsx", actor=SYSTEM, commit=False, today=TODAY).run
    session.commit()
    assert conflict_counts(session, run) == ConflictCounts(students=3, fields=3, taking_file=0)

    assert choose(session, run, actor=env.admin, whole_file="file") == 3
    session.commit()
    assert conflict_counts(session, run).taking_file == 3
    first = conflict_page(session, run).items[0][0]
    choose(session, run, actor=env.admin, fields={first.id: "platform"})
    session.commit()

    assert conflict_counts(session, run).taking_file == 2
    assert chosen(session, run).whole_file == "file"
    assert {fp[0] for fp in chosen(session, run).take_file} == {s.id for s in students.values()} - {first.student_id}
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "import_conflicts.chosen")
                             .order_by(AuditEvent.id)).all()
    assert [e.detail["whole_file"] for e in events] == ["file", None]
    assert events[1].detail["fields"] == {str(first.id): "platform"}


def test_a_choice_is_refused_when_unknown_or_once_the_file_is_imported(session, env):
    applied(session, env, env.student, {(0, "current_address"): NEW_ADDRESS})
    store = MemoryStore()
    run = check_upload(session, env.school, env.original, "学生.xlsx", store=store, actor=env.admin)
    session.commit()
    with pytest.raises(Exception, match="无法识别的选择"):
        choose(session, run, actor=env.admin, whole_file="both")
    commit_checked(session, run, env.school, store=store, actor=env.admin)
    session.commit()
    with pytest.raises(Exception, match="不能再修改选择"):
        choose(session, run, actor=env.admin, whole_file="file")


def test_a_conflict_that_changed_since_the_check_keeps_the_platforms_value(session, env):
    confirmation = hand_in(session, env, {(0, "current_address"): NEW_ADDRESS})
    changed = [list(r) for r in env.data]
    changed[0][col("现住址")] = FILE_ADDRESS
    store = MemoryStore()
    run = check_upload(session, env.school, xlsx(changed), "学生.xlsx", store=store, actor=env.admin)
    session.commit()
    choose(session, run, actor=env.admin, whole_file="file")  # chosen while the platform had the old address
    review.approve_confirmation(session, confirmation, actor=env.teacher)  # now it has the parent's
    session.commit()

    new = commit_checked(session, run, env.school, store=store, actor=env.admin)
    session.commit()

    assert new.status == "committed"
    assert fresh(session, env.student).value("current_address") == NEW_ADDRESS
    assert audited(session) == [("import_conflict.kept", "0.current_address", "platform")]


def test_conflicts_are_paged_by_student_in_file_order(session, env):
    data = rows(PAGE_SIZE + 7, start=10)
    run_import(session, env.school, xlsx(data))
    students = by_id_number(session, env.school)
    for row in data:
        applied(session, env, students[row[col("身份证件号")]], {(0, "current_address"): NEW_ADDRESS,
                                                                 (0, "phone"): "13912345678"})
    run = import_file(session, env.school, xlsx(data), "学生.xlsx", actor=SYSTEM, commit=False, today=TODAY).run
    session.commit()

    first, second = conflict_page(session, run, 1), conflict_page(session, run, 2)

    assert (first.pages, first.counts.students, first.counts.fields) == (2, PAGE_SIZE + 7, 2 * (PAGE_SIZE + 7))
    assert len({s.id for _c, s, _k, _ch in first.items}) == PAGE_SIZE
    assert len({s.id for _c, s, _k, _ch in second.items}) == 7
    assert [c.row for c, *_ in first.items] == sorted(c.row for c, *_ in first.items)
    assert first.items[-1][0].row < second.items[0][0].row
    assert conflict_page(session, run, 99).page == 2 and conflict_page(session, run, -3).page == 1


# --- another school's file -------------------------------------------------------------------------------------


def test_a_file_for_another_school_is_refused_before_any_change(session, env):
    approve_address_and_ethnicity(session, env)
    before = (counts(session, env.school), session.scalar(select(func.count()).select_from(ImportRun)))
    foreign = xlsx([student_row(i, "5200000002") for i in range(3)])

    with pytest.raises(OtherSchoolFile) as refused:
        import_file(session, env.school, foreign, "学生.xlsx", actor=SYSTEM, commit=True, today=TODAY)
    session.rollback()

    assert str(refused.value.message) == (
        "这是另一所学校的学生名单（文件中的学校标识码为 5200000002），不是本校（5200000001）的；没有导入任何数据，"
        "请选择本校的文件")
    assert (counts(session, env.school), session.scalar(select(func.count()).select_from(ImportRun))) == before
    assert fresh(session, env.student).value("current_address") == NEW_ADDRESS
