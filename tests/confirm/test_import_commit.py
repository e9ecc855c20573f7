"""Writing a checked student file (导入): all or nothing, matching stored students so a re-import writes only
what changed, the import report, and the exports in the template layout (round trip) and the change list."""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, func, select

from benchmarks._template import student_row
from confirm.errors import DomainError
from confirm.exporting import CHANGE_HEADERS, export_changes, export_students
from confirm.importing.checker import check_table
from confirm.importing.committer import commit_import, existing_students
from confirm.importing.reader import open_table
from confirm.importing.service import ImportOutcome, import_file
from confirm.models import AuditEvent, FamilyMember, ImportRun, SchoolClass, Student
from confirm.services.common import SYSTEM, Actor
from confirm.services.records import ensure_confirmation, save_corrections
from confirm.template import EXPORT_COLUMNS
from tests.factories import make_campaign, make_class, make_parent, make_school

SCHOOL = "5200000001"
TODAY = date(2026, 3, 1)
HEADERS = [c.header for c in EXPORT_COLUMNS]
CODES = [c.code for c in EXPORT_COLUMNS]
WRITES = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(students|family_members|classes)"?\b', re.I)


def col(header: str) -> int:
    return HEADERS.index(header)


def rows(n: int, start: int = 0) -> list[list]:
    return [student_row(i, SCHOOL) for i in range(start, start + n)]


def xlsx(data_rows, headers=HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([c.code for c in EXPORT_COLUMNS if c.header in headers] if headers is not HEADERS else CODES)
    sheet.append(list(headers))
    for row in data_rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def add_grandparent(row: list, name: str, address: str, division: str) -> None:
    """Fill family member 2 of a template row with a grandparent who is not a guardian."""
    for header, value in (("姓名", name), ("关系", "祖父母或外祖父母"), ("现住址", address),
                          ("户口所在地行政区划", division), ("联系电话", "13700000000"), ("是否监护人", "否")):
        row[col("成员2" + header)] = value


def without(data_rows, *dropped: str) -> tuple[list[list], list[str]]:
    """The rows and headers with the columns ``dropped`` removed."""
    keep = [i for i, h in enumerate(HEADERS) if h not in dropped]
    return [[row[i] for i in keep] for row in data_rows], [HEADERS[i] for i in keep]


@pytest.fixture
def school(session):
    return make_school(session, code=SCHOOL)


def run_import(session, school, data: bytes, filename: str = "学生.xlsx") -> ImportOutcome:
    outcome = import_file(session, school, data, filename, actor=SYSTEM, commit=True, today=TODAY)
    session.commit()
    return outcome


def counts(session, school) -> tuple[int, int, int]:
    """(students, family members, classes) of the school."""
    students = session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id))
    members = session.scalar(select(func.count()).select_from(FamilyMember).join(Student)
                             .where(Student.school_id == school.id))
    classes = session.scalar(select(func.count()).select_from(SchoolClass).where(SchoolClass.school_id == school.id))
    return students, members, classes


def by_id_number(session, school) -> dict[str, Student]:
    session.expire_all()
    return {s.id_number: s for s in session.scalars(select(Student).where(Student.school_id == school.id))}


@contextmanager
def record_writes(session):
    """Collect the INSERT/UPDATE/DELETE statements sent for students, family members and classes."""
    engine = session.get_bind()
    seen: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if WRITES.match(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", watch)


# --- creating ---------------------------------------------------------------------------------------------------


def test_commit_creates_students_with_family_members_and_their_classes(session, school):
    data = rows(5)
    add_grandparent(data[0], "王奶奶", "测试市测试路1号", "520102000000")
    outcome = run_import(session, school, xlsx(data))

    assert outcome.run.status == "committed"
    assert (outcome.run.created_count, outcome.run.updated_count, outcome.run.unchanged_count) == (5, 0, 0)
    assert counts(session, school) == (5, 6, 5)
    students = by_id_number(session, school)
    first = students[data[0][col("身份证件号")]]
    assert first.name == data[0][col("姓名")]
    assert first.record["gender"] == "2" and first.record["ethnicity"] == "01" and first.record["id_type"] == "1"
    assert first.record["school_code"] == SCHOOL
    assert (first.school_class.grade, first.school_class.name) == ("1年级", "1班")
    assert {m.slot: m.record["relation"] for m in first.members} == {1: "1", 2: "3"}
    assert first.member(2).record["is_guardian"] == "0"
    titles = {(c.grade, c.name) for c in session.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id))}
    assert titles == {(f"{i % 6 + 1}年级", f"{i % 8 + 1}班") for i in range(5)}
    assert len({s.upload_no for s in students.values()}) == 5


def test_students_go_into_existing_classes_by_grade_and_class_name(session, school):
    existing = make_class(session, school, grade="1年级", name="1班")
    session.commit()
    data = [student_row(0, SCHOOL), student_row(48, SCHOOL)]  # both 1年级 1班
    run_import(session, school, xlsx(data))
    assert counts(session, school) == (2, 2, 1)
    assert {s.class_id for s in by_id_number(session, school).values()} == {existing.id}


def test_classes_are_found_or_created_by_class_code(session, school):
    coded = make_class(session, school, grade="三年级", name="3班")
    coded.class_code = "2020003"
    session.commit()
    data = rows(3)
    for row, code in zip(data, ("2020003", "2020007", "2020007"), strict=True):
        row[col("班号")] = code
        row[col("年级")] = ""
        row[col("班级")] = ""
    run_import(session, school, xlsx(data))

    students = by_id_number(session, school)
    placed = [students[row[col("身份证件号")]].school_class for row in data]
    assert placed[0].id == coded.id
    assert placed[1].id == placed[2].id != coded.id
    assert (placed[1].grade, placed[1].name, placed[1].class_code) == ("未分年级", "2020007", "2020007")
    assert counts(session, school)[2] == 2


# --- all or nothing ---------------------------------------------------------------------------------------------


def test_file_with_one_bad_row_writes_nothing(session, school):
    data = rows(4)
    data[3][col("联系电话")] = "12345"
    outcome = run_import(session, school, xlsx(data))
    assert outcome.run.status == "rejected"
    assert (outcome.run.error_count, outcome.run.rejected_count, outcome.run.created_count) == (1, 1, 0)
    assert counts(session, school) == (0, 0, 0)


def test_committing_a_check_with_errors_is_refused(session, school):
    data = rows(2)
    data[1][col("性别")] = "未知"
    result = check_table(open_table(xlsx(data), "学生.xlsx"), school_code=SCHOOL, today=TODAY)
    with pytest.raises(DomainError) as refused:
        commit_import(session, school, result, actor=SYSTEM, filename="学生.xlsx", sha256="0" * 64)
    assert "文件还有 1 处错误" in str(refused.value.message)
    session.flush()
    assert counts(session, school) == (0, 0, 0)
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 0


# --- re-importing -----------------------------------------------------------------------------------------------


def test_importing_the_same_file_again_changes_nothing_and_writes_no_rows(session, school):
    data = xlsx(rows(6))
    run_import(session, school, data)
    before = {s.id: (s.updated_at, dict(s.record)) for s in by_id_number(session, school).values()}

    with record_writes(session) as writes:
        outcome = run_import(session, school, data)

    assert writes == []
    assert (outcome.run.created_count, outcome.run.updated_count, outcome.run.unchanged_count) == (0, 0, 6)
    assert counts(session, school) == (6, 6, 6)
    after = {s.id: (s.updated_at, dict(s.record)) for s in by_id_number(session, school).values()}
    assert after == before


def test_reimport_with_one_changed_address_updates_that_student_only(session, school):
    data = rows(4)
    run_import(session, school, xlsx(data))
    data[2][col("现住址")] = "新地址路88号"
    data[2][col("成员1联系电话")] = "13811112222"

    with record_writes(session) as writes:
        outcome = run_import(session, school, xlsx(data))

    assert (outcome.run.created_count, outcome.run.updated_count, outcome.run.unchanged_count) == (0, 1, 3)
    assert len(writes) == 2 and all(w.lstrip().upper().startswith("UPDATE") for w in writes)
    students = by_id_number(session, school)
    changed = students[data[2][col("身份证件号")]]
    assert changed.record["current_address"] == "新地址路88号"
    assert changed.member(1).record["phone"] == "13811112222"
    assert students[data[1][col("身份证件号")]].record["current_address"] == data[1][col("现住址")]


def test_reimport_moves_a_student_to_the_class_the_file_names(session, school):
    data = rows(2)
    run_import(session, school, xlsx(data))
    data[0][col("班级")] = "9班"
    outcome = run_import(session, school, xlsx(data))
    assert (outcome.run.updated_count, outcome.run.unchanged_count) == (1, 1)
    moved = by_id_number(session, school)[data[0][col("身份证件号")]]
    assert (moved.school_class.grade, moved.school_class.name) == ("1年级", "9班")


def test_students_without_id_number_are_matched_by_name_gender_and_birth_date(session, school):
    data = rows(3)
    for row in data[:2]:
        row[col("身份证件类型")] = "其他"
        row[col("身份证件号")] = ""
    run_import(session, school, xlsx(data))
    data[1][col("家庭地址")] = "搬家后的地址"

    outcome = run_import(session, school, xlsx(data))

    assert (outcome.run.created_count, outcome.run.updated_count, outcome.run.unchanged_count) == (0, 1, 2)
    assert counts(session, school)[0] == 3
    session.expire_all()
    moved = session.scalar(select(Student).where(Student.name == data[1][col("姓名")]))
    assert moved.id_number is None and moved.record["home_address"] == "搬家后的地址"


def test_student_without_id_like_a_stored_student_with_one_gets_a_warning(session, school):
    data = rows(1)
    run_import(session, school, xlsx(data))
    data[0][col("身份证件类型")] = "其他"
    data[0][col("身份证件号")] = ""
    result = check_table(open_table(xlsx(data), "学生.xlsx"), school_code=SCHOOL, today=TODAY,
                         existing=existing_students(session, school.id))
    assert result.is_clean
    assert [(p.row, p.column, p.is_warning) for p in result.problems] == [(3, "姓名", True)]
    assert "相同且有身份证件号" in str(result.problems[0].message)


def test_columns_the_file_lacks_keep_their_stored_values(session, school):
    data = rows(2)
    data[0][col("特长")] = "书法"
    add_grandparent(data[0], "王奶奶", "测试市测试路1号", "520102000000")
    run_import(session, school, xlsx(data))

    member2 = [h for h in HEADERS if h.startswith("成员2")]
    short_rows, short_headers = without(data, "特长", *member2)
    outcome = run_import(session, school, xlsx(short_rows, short_headers))

    kept = by_id_number(session, school)[data[0][col("身份证件号")]]
    assert kept.record["specialty"] == "书法"
    assert kept.member(2).record.get("name") == "王奶奶"
    assert (outcome.run.updated_count, outcome.run.unchanged_count) == (0, 2)


def test_an_empty_cell_in_a_column_the_file_has_clears_the_stored_value(session, school):
    data = rows(1)
    data[0][col("特长")] = "书法"
    run_import(session, school, xlsx(data))
    data[0][col("特长")] = ""
    outcome = run_import(session, school, xlsx(data))
    assert outcome.run.updated_count == 1
    assert "specialty" not in by_id_number(session, school)[data[0][col("身份证件号")]].record


# --- the import report ------------------------------------------------------------------------------------------


def test_import_run_keeps_the_report_with_its_counts(session, school):
    data = rows(3)
    run_import(session, school, xlsx(data))
    data[0][col("现住址")] = "改过的地址"
    data.append(student_row(3, SCHOOL))
    data[3][col("入学年月")] = 2015.1  # a warning only
    payload = xlsx(data)
    outcome = run_import(session, school, payload, "第二批.xlsx")

    run = session.get(ImportRun, outcome.run.id)
    assert run.status == "committed" and run.committed_at is not None
    assert run.filename == "第二批.xlsx" and len(run.sha256) == 64
    assert (run.total_rows, run.error_count, run.warning_count) == (4, 0, 1)
    assert (run.created_count, run.updated_count, run.unchanged_count, run.rejected_count) == (1, 1, 2, 0)
    assert run.problems["truncated"] == 0
    [item] = run.problems["items"]
    assert (item["row"], item["column"], item["warning"]) == (6, "入学年月", True)
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "students.imported")
                            .order_by(AuditEvent.id)).all()[-1]
    assert (audit.target_id, audit.detail["created"], audit.detail["updated"]) == (run.id, 1, 1)


def test_rejected_check_keeps_a_report_of_the_problems(session, school):
    data = rows(3)
    data[0][col("性别")] = "未知"
    data[2][col("邮政编码")] = "55"
    outcome = run_import(session, school, xlsx(data))
    run = session.get(ImportRun, outcome.run.id)
    assert (run.status, run.total_rows, run.error_count, run.rejected_count) == ("rejected", 3, 2, 2)
    assert [(i["row"], i["column"]) for i in run.problems["items"]] == [(3, "性别"), (5, "邮政编码")]


# --- exports ----------------------------------------------------------------------------------------------------


def _sheet_rows(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_round_trip_import_export_import_changes_nothing(session, school):
    data = rows(7)
    add_grandparent(data[1], "李奶奶", "测试市测试路2号", "520103000000")
    data[2][col("上下学距离")] = "2.5"
    data[2][col("上下学方式")] = "公共交通（含城市公交、农村客运、地铁）"
    run_import(session, school, xlsx(data))

    exported = export_students(session, school)
    with record_writes(session) as writes:
        outcome = run_import(session, school, exported, "导出.xlsx")

    assert outcome.result.problems == []
    assert (outcome.run.created_count, outcome.run.updated_count, outcome.run.unchanged_count) == (0, 0, 7)
    assert writes == []


def test_exported_workbook_has_the_template_layout_with_text_ids_and_option_names(session, school):
    data = rows(2)
    run_import(session, school, xlsx(data))
    sheet = load_workbook(io.BytesIO(export_students(session, school))).active
    assert [c.value or "" for c in sheet[1]] == CODES
    assert [c.value for c in sheet[2]] == HEADERS
    assert sheet.max_row == 4
    by_name = {sheet.cell(row=r, column=col("姓名") + 1).value: r for r in (3, 4)}
    row = by_name[data[0][col("姓名")]]

    def cell(header: str):
        return sheet.cell(row=row, column=col(header) + 1)

    assert cell("身份证件号").data_type == "s" and cell("身份证件号").value == data[0][col("身份证件号")]
    assert cell("成员1身份证件号").data_type == "s"
    assert cell("联系电话").data_type == "s" and cell("邮政编码").value == "550001"
    assert (cell("民族").value, cell("性别").value, cell("身份证件类型").value) == ("汉族", "女", "居民身份证")
    assert (cell("是否独生子女").value, cell("是否留守儿童").value, cell("国籍/地区").value) == (
        "是", "非留守儿童", "中国")
    assert (cell("成员1关系").value, cell("成员1是否监护人").value) == ("父亲", "是")
    assert (cell("年级").value, cell("班级").value) == ("1年级", "1班")


def test_text_that_looks_like_a_formula_is_exported_as_text_and_survives_a_round_trip(session, school):
    data = rows(2)
    data[0][col("特长")] = "=1+1"
    data[1][col("现住址")] = '=HYPERLINK("http://example.com","点我")'
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    writer.writerows(data)
    run_import(session, school, out.getvalue().encode("utf-8-sig"), "学生.csv")

    exported = export_students(session, school)
    sheet = load_workbook(io.BytesIO(exported)).active
    texts = {c.value: c.data_type for row in sheet.iter_rows(min_row=3) for c in row
             if isinstance(c.value, str) and c.value.startswith("=")}
    assert texts == {"=1+1": "s", '=HYPERLINK("http://example.com","点我")': "s"}  # text, not live formulas

    outcome = run_import(session, school, exported, "导出.xlsx")
    assert outcome.result.problems == []
    assert (outcome.run.created_count, outcome.run.updated_count, outcome.run.unchanged_count) == (0, 0, 2)


def test_export_of_one_class_has_only_its_students(session, school):
    data = [student_row(0, SCHOOL), student_row(1, SCHOOL), student_row(48, SCHOOL)]  # 0 and 48: 1年级 1班
    run_import(session, school, xlsx(data))
    first_class = session.scalar(select(SchoolClass).where(SchoolClass.name == "1班"))
    names = sorted(r[col("姓名")] for r in _sheet_rows(export_students(session, school, first_class))[2:])
    assert names == sorted([data[0][col("姓名")], data[2][col("姓名")]])


def test_change_export_lists_each_correction_with_old_and_new_values(session, school):
    run_import(session, school, xlsx(rows(2)))
    campaign = make_campaign(session, school)
    student = session.scalar(select(Student).where(Student.name == student_row(0, SCHOOL)[col("姓名")]))
    parent = make_parent(session, student)
    confirmation = ensure_confirmation(session, campaign, student)
    save_corrections(session, confirmation, {(0, "current_address"): "新家地址1号", (0, "ethnicity"): "回族",
                                             (1, "phone"): "13900009999"},
                     actor=Actor("parent", parent.id))
    session.commit()

    sheet_rows = _sheet_rows(export_changes(session, school, campaign))

    assert sheet_rows[0] == list(CHANGE_HEADERS)
    body = {r[2]: r for r in sheet_rows[1:]}
    assert set(body) == {"现住址", "民族", "成员1联系电话"}
    requester = f"家长（平台号 {parent.platform_no}）"
    assert body["现住址"] == ["1年级 1班", student.name, "现住址", "测试市测试路1号", "新家地址1号", "否", requester,
                             "家长未提交", 0, None, None, None,
                             f"1年级 1班/{student.name}/{student.value('birth_date')[:4]}-"
                             f"{student.value('birth_date')[4:6]}-{student.value('birth_date')[6:]}"]
    assert body["民族"][3:6] == ["汉族", "回族", "是"]
    assert body["成员1联系电话"][3:5] == ["13800000000", "13900009999"]


def test_change_export_of_a_school_without_corrections_has_only_the_header(session, school):
    run_import(session, school, xlsx(rows(1)))
    assert _sheet_rows(export_changes(session, school)) == [list(CHANGE_HEADERS)]


def test_student_without_id_who_now_has_one_is_updated_not_duplicated(session, school):
    first = student_row(0, SCHOOL)
    id_number = first[col("身份证件号")]
    first[col("身份证件类型")] = "其他"
    first[col("身份证件号")] = ""
    run_import(session, school, xlsx([first]))
    assert counts(session, school)[0] == 1
    again = student_row(0, SCHOOL)  # the same child, now with the ID number
    outcome = run_import(session, school, xlsx([again]))
    assert (outcome.run.created_count, outcome.run.updated_count) == (0, 1)
    assert counts(session, school)[0] == 1
    assert list(by_id_number(session, school)) == [id_number]
    assert any("补充身份证件号" in str(p.message) and p.is_warning for p in outcome.result.problems)
