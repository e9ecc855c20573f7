"""The school admin's student import on the web: upload → template check report → 确认导入, the annotated
workbook, the exports, and who may use them."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import unescape

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from benchmarks._template import student_row
from confirm.importing.annotate import ERROR_FILL, WARNING_FILL
from confirm.models import (
    AuditEvent,
    Campaign,
    FieldCorrection,
    ImportRun,
    ParentAccount,
    School,
    SchoolClass,
    StaffUser,
    Student,
)
from confirm.services.records import ensure_confirmation
from confirm.template import EXPORT_COLUMNS
from tests.factories import (
    PASSWORD,
    make_campaign,
    make_class,
    make_parent,
    make_school,
    make_staff,
    make_student,
)

HEADERS = [c.header for c in EXPORT_COLUMNS]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def col(header: str) -> int:
    return HEADERS.index(header)


def workbook_bytes(data_rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([c.code for c in EXPORT_COLUMNS])
    sheet.append(HEADERS)
    for row in data_rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def school_rows(world, n: int, start: int = 100) -> list[list]:
    return [student_row(i, world.school.code) for i in range(start, start + n)]


@dataclass
class World:
    school: School
    campaign: Campaign
    admin: StaffUser
    teacher: StaffUser
    class_a: SchoolClass
    class_b: SchoolClass
    students_a: list[Student]
    students_b: list[Student]
    parent: ParentAccount  # linked to students_a[0]
    other_school: School
    other_admin: StaffUser


@pytest.fixture
def world(db) -> World:
    """A school with two classes, five students, a campaign and a parent, and a second school with its admin.

    Every code, username and phone is explicit, so nothing depends on the order the tests run in."""
    school = make_school(db, code="5200000071")
    campaign = make_campaign(db, school)
    admin = make_staff(db, school, role="school_admin", username="import_admin")
    teacher = make_staff(db, school, username="import_teacher")
    class_a = make_class(db, school, teacher, name="1班")
    class_b = make_class(db, school, name="2班")
    students_a = [make_student(db, class_a) for _ in range(3)]
    students_b = [make_student(db, class_b) for _ in range(2)]
    parent = make_parent(db, students_a[0], phone="13700000071")
    other_school = make_school(db, code="5200000072")
    other_admin = make_staff(db, other_school, role="school_admin", username="import_admin_other")
    db.commit()
    return World(school, campaign, admin, teacher, class_a, class_b, students_a, students_b, parent, other_school,
                 other_admin)


@pytest.fixture
def admin(client, world, auth):
    assert auth.login(world.admin.username, PASSWORD).status_code == 302
    return client


def upload(client, data: bytes, filename: str = "学生名单.xlsx"):
    return client.post("/admin/students/import", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def uploaded_run(client, data: bytes, filename: str = "学生名单.xlsx") -> int:
    response = upload(client, data, filename)
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/admin/students/import/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def problem_rows(page: str) -> list[tuple[str, str, str, str]]:
    """The report's problem table as (row, column, value, message) texts."""
    cells = re.findall(
        r'<tr class="(?:warn|err)"><td class="num">(\d+)</td><td>(.*?)</td><td>(.*?)</td>\s*<td>(.*?)</td></tr>',
        page, flags=re.S)
    return [(r, c, v, re.sub(r"<[^>]+>", "", m).strip()) for r, c, v, m in cells]


def student_count(db, world) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Student).where(Student.school_id == world.school.id))


# --- a clean file -----------------------------------------------------------------------------------------------


def test_clean_upload_is_checked_then_imported_on_confirmation(admin, world, db):
    data = school_rows(world, 3)
    data[0][col("年级")], data[0][col("班级")] = "三年级", "1班"  # an existing class
    before = student_count(db, world)
    run_id = uploaded_run(admin, workbook_bytes(data))

    report = admin.get(f"/admin/students/import/{run_id}")
    page = text_of(report)
    assert report.status_code == 200
    assert "学生名单.xlsx" in page and "检查通过，待确认" in page and "确认导入" in page
    assert problem_rows(page) == []
    assert student_count(db, world) == before  # the check writes no students

    committed = admin.post(f"/admin/students/import/{run_id}/commit")
    assert committed.status_code == 302
    new_id = int(committed.headers["Location"].rsplit("/", 1)[1])
    page = text_of(admin.get(committed.headers["Location"]))
    assert "导入完成：新增 3 人，更新 0 人，未变 0 人" in page and "已导入" in page and "确认导入" not in page

    assert student_count(db, world) == before + 3
    runs = {r.id: r for r in db.scalars(select(ImportRun))}
    assert runs[new_id].status == "committed" and runs[new_id].created_count == 3
    assert runs[run_id].status == "rejected" and runs[run_id].storage_key is None  # superseded, file dropped

    names = [row[col("姓名")] for row in data]
    class_a = admin.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    assert names[0] in class_a and names[1] not in class_a
    other = db.scalar(select(SchoolClass).where(SchoolClass.school_id == world.school.id,
                                                SchoolClass.grade == data[1][col("年级")],
                                                SchoolClass.name == data[1][col("班级")]))
    assert other is not None and other.head_teacher_id is None  # created by the import, without a teacher
    assert names[1] in admin.get(f"/teacher/classes/{other.id}").get_data(as_text=True)


def test_second_commit_of_a_committed_run_does_nothing_new(admin, world, db):
    run_id = uploaded_run(admin, workbook_bytes(school_rows(world, 2)))
    first = admin.post(f"/admin/students/import/{run_id}/commit")
    new_id = int(first.headers["Location"].rsplit("/", 1)[1])
    count, runs = student_count(db, world), db.scalar(select(func.count()).select_from(ImportRun))

    for target in (run_id, new_id):
        again = admin.post(f"/admin/students/import/{target}/commit", follow_redirects=True)
        assert again.status_code == 200
        assert "这个文件已经导入过，或者检查没有通过" in text_of(again)

    assert student_count(db, world) == count
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(ImportRun)) == runs


def test_uploading_an_unreadable_file_shows_the_reason_on_the_form(admin, world, db):
    response = upload(admin, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "照片.png")
    assert response.status_code == 200
    assert "无法识别的文件类型" in text_of(response)
    assert db.scalar(select(func.count()).select_from(ImportRun)) == 0

    empty = admin.post("/admin/students/import", data={}, content_type="multipart/form-data")
    assert empty.status_code == 200 and "请选择要导入的 .xlsx 或 .csv 文件" in text_of(empty)


# --- a file with errors -----------------------------------------------------------------------------------------


def test_file_with_errors_gets_a_report_of_every_problem_and_no_import_button(admin, world, db):
    data = school_rows(world, 3)
    data[1][col("联系电话")] = "12345"
    data[2][col("性别")] = "未知"
    data[2][col("入学年月")] = 2015.1  # a warning: a numeric cell read as January
    before = student_count(db, world)
    run_id = uploaded_run(admin, workbook_bytes(data))

    page = text_of(admin.get(f"/admin/students/import/{run_id}"))
    rows = problem_rows(page)
    assert [(r, c, v) for r, c, v, _m in rows] == [
        ("4", "联系电话", "12345"), ("5", "性别", "未知"), ("5", "入学年月", "2015.1")]
    assert rows[0][3].startswith("电话号码格式不正确")
    assert "不是可选的选项" in rows[1][3]
    assert rows[2][3].startswith("警告") and "按1月理解" in rows[2][3]
    assert "确认导入" not in page and "文件有错误，没有导入任何数据" in page
    assert "下载标注了问题的工作簿" in page

    refused = admin.post(f"/admin/students/import/{run_id}/commit", follow_redirects=True)
    assert "这个文件已经导入过，或者检查没有通过" in text_of(refused)
    assert student_count(db, world) == before


def test_annotated_workbook_marks_each_bad_cell_with_a_fill_and_a_comment(admin, world):
    data = school_rows(world, 3)
    data[1][col("联系电话")] = "12345"
    data[2][col("入学年月")] = 2015.1  # a warning only
    run_id = uploaded_run(admin, workbook_bytes(data))

    response = admin.get(f"/admin/students/import/{run_id}/annotated.xlsx")

    assert response.status_code == 200 and response.mimetype == XLSX
    assert response.headers["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(response.data)).active
    bad = sheet.cell(row=4, column=col("联系电话") + 1)
    assert bad.value == "12345"
    assert bad.fill.fgColor.rgb == ERROR_FILL.fgColor.rgb
    assert bad.comment is not None and "电话号码格式不正确" in bad.comment.text
    warned = sheet.cell(row=5, column=col("入学年月") + 1)
    assert warned.fill.fgColor.rgb == WARNING_FILL.fgColor.rgb and warned.comment.text.startswith("警告：")
    fine = sheet.cell(row=3, column=col("联系电话") + 1)
    assert fine.comment is None and fine.fill.fgColor.rgb != ERROR_FILL.fgColor.rgb
    assert sheet.cell(row=3, column=col("姓名") + 1).value == data[0][col("姓名")]  # the data is kept


# --- exports ----------------------------------------------------------------------------------------------------


def test_student_export_is_an_xlsx_attachment_of_the_school(admin, world):
    response = admin.get("/admin/students/export.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX
    assert response.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''students-{world.school.code}.xlsx"
    sheet = load_workbook(io.BytesIO(response.data)).active
    names = sorted(r[col("姓名")] for r in sheet.iter_rows(min_row=3, values_only=True))
    assert names == sorted(s.name for s in world.students_a + world.students_b)

    one_class = admin.get(f"/admin/students/export.xlsx?class_id={world.class_b.id}")
    sheet = load_workbook(io.BytesIO(one_class.data)).active
    assert sorted(r[col("姓名")] for r in sheet.iter_rows(min_row=3, values_only=True)) == sorted(
        s.name for s in world.students_b)


def test_student_export_of_another_schools_class_is_404(admin, world, db):
    foreign = make_class(db, world.other_school, name="9班")
    db.commit()
    assert admin.get(f"/admin/students/export.xlsx?class_id={foreign.id}").status_code == 404


def test_change_export_is_an_xlsx_attachment_listing_the_corrections(admin, world, db):
    student = db.merge(world.students_a[0])
    confirmation = ensure_confirmation(db, db.merge(world.campaign), student)
    confirmation.corrections.append(FieldCorrection(
        slot=0, field_key="current_address", old_value=student.value("current_address"), new_value="新地址7号",
        requested_by_kind="parent", requested_by_id=world.parent.id))
    db.commit()

    response = admin.get("/admin/changes/export.xlsx")

    assert response.status_code == 200 and response.mimetype == XLSX
    assert response.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''changes-{world.school.code}.xlsx"
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert [r[1:5] for r in rows[1:]] == [(student.name, "现住址", student.value("current_address"), "新地址7号")]


# --- who may use the import -------------------------------------------------------------------------------------


@pytest.fixture
def own_run(admin, world, auth) -> int:
    """A checked run of the school, uploaded by its admin, who is then logged out."""
    run_id = uploaded_run(admin, workbook_bytes(school_rows(world, 1)))
    auth.logout()
    return run_id


def _routes(run_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin/students/import"),
        ("POST", "/admin/students/import"),
        ("GET", f"/admin/students/import/{run_id}"),
        ("POST", f"/admin/students/import/{run_id}/commit"),
        ("GET", f"/admin/students/import/{run_id}/annotated.xlsx"),
        ("GET", "/admin/students/export.xlsx"),
        ("GET", "/admin/changes/export.xlsx"),
    ]


@pytest.mark.parametrize("who", ["head_teacher", "parent"])
def test_head_teacher_and_parent_are_forbidden(client, world, auth, db, own_run, who):
    login = world.teacher.username if who == "head_teacher" else world.parent.phone
    assert auth.login(login, PASSWORD).status_code == 302
    for method, url in _routes(own_run):
        response = client.open(url, method=method)
        assert response.status_code == 403, (who, method, url)
    db.expire_all()
    assert db.get(ImportRun, own_run).status == "checked"


def test_another_schools_admin_gets_404_for_this_schools_run(client, world, auth, db, own_run):
    assert auth.login(world.other_admin.username, PASSWORD).status_code == 302
    for method, url in _routes(own_run)[2:5]:
        response = client.open(url, method=method)
        assert response.status_code == 404, (method, url)
    db.expire_all()
    assert db.get(ImportRun, own_run).status == "checked"
    assert student_count(db, world) == 5


def test_anonymous_visitor_is_sent_to_the_login_page(client, world, own_run):
    for method, url in _routes(own_run):
        response = client.open(url, method=method)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)


def test_the_file_picker_offers_every_format_the_import_reads(admin):
    page = admin.get("/admin/students/import").get_data(as_text=True)
    accept = re.search(r'<input id="file" name="file" type="file" accept="([^"]+)"', page).group(1).split(",")
    assert {".xlsx", ".xls", ".csv"} <= set(accept)


def test_a_county_code_not_in_the_list_is_imported_only_once_the_admin_keeps_it_for_its_row(admin, world, db):
    data = school_rows(world, 3)
    data[1][col("出生地行政区划代码")] = "520199000000"  # 520199: no such county
    data[2][col("户口所在地行政区划")] = "520199000000"
    before = student_count(db, world)
    run_id = uploaded_run(admin, workbook_bytes(data))
    page = text_of(admin.get(f"/admin/students/import/{run_id}"))
    assert "确认导入" not in page
    assert re.findall(r'name="keep_row" value="(\d+)"', page) == ["4", "5"]

    kept = admin.post(f"/admin/students/import/{run_id}/keep", data={"keep_row": ["4"]})
    second = int(re.search(r"/admin/students/import/(\d+)$", kept.headers["Location"]).group(1))
    page = text_of(admin.get(f"/admin/students/import/{second}"))
    assert "确认导入" not in page  # row 5 is still an error
    kept = admin.post(f"/admin/students/import/{second}/keep", data={"keep_row": ["5"]})
    third = int(re.search(r"/admin/students/import/(\d+)$", kept.headers["Location"]).group(1))
    page = text_of(admin.get(f"/admin/students/import/{third}"))
    assert "确认导入" in page and page.count("已按您的选择保留原值") == 2

    admin.post(f"/admin/students/import/{third}/commit")
    assert student_count(db, world) == before + 3
    stored = db.scalar(select(Student).where(Student.name == data[1][col("姓名")]))
    assert stored.value("birthplace_code") == "520199000000"
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "import.values_kept")
                      .order_by(AuditEvent.id.desc()))
    assert audit.detail["rows"] == [4, 5]


def test_keeping_values_needs_a_ticked_row(admin, world, db):
    data = school_rows(world, 2)
    data[1][col("出生地行政区划代码")] = "520199000000"
    run_id = uploaded_run(admin, workbook_bytes(data))
    response = admin.post(f"/admin/students/import/{run_id}/keep", data={}, follow_redirects=True)
    assert "请勾选要保留原值的行" in text_of(response)
