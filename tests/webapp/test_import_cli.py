"""The command line of the national template: `flask import-students`, `export-students`, `export-changes`.

import-students prints one problem per line as row<TAB>column<TAB>value<TAB>message and a summary line last;
exit 0 clean (and imported), 1 problems (nothing written), 2 the file cannot be read. During a campaign each field a
correction changed where the file says otherwise is printed the same way; the platform's value is kept unless
--take-file-values is given.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from benchmarks._template import student_row
from confirm.exporting import CHANGE_HEADERS
from confirm.models import AuditEvent, FamilyMember, FieldCorrection, ImportRun, SchoolClass, Student
from confirm.services.common import Actor
from confirm.services.records import ensure_confirmation, save_corrections
from confirm.template import EXPORT_COLUMNS
from tests.factories import make_campaign, make_parent, make_school

SCHOOL = "5200000001"
HEADERS = [c.header for c in EXPORT_COLUMNS]


def col(header: str) -> int:
    return HEADERS.index(header)


def write_xlsx(path, data_rows) -> str:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([c.code for c in EXPORT_COLUMNS])
    sheet.append(HEADERS)
    for row in data_rows:
        sheet.append(list(row))
    workbook.save(path)
    return str(path)


@pytest.fixture
def school(db):
    school = make_school(db, code=SCHOOL)
    db.commit()
    return school


def rows(n: int) -> list[list]:
    return [student_row(i, SCHOOL) for i in range(n)]


def written(db) -> tuple[int, int, int, int]:
    """(students, family members, classes, import runs) in the database."""
    db.expire_all()
    return tuple(db.scalar(select(func.count()).select_from(model))
                 for model in (Student, FamilyMember, SchoolClass, ImportRun))


def problem_lines(result) -> list[list[str]]:
    """The problem lines of stdout, split at the TABs (the summary line is checked separately)."""
    lines = result.stdout.splitlines()
    assert lines, result.output
    assert "\t" not in lines[-1]  # the summary comes last
    for line in lines[:-1]:
        fields = line.split("\t")
        assert len(fields) == 4 and fields[0].isdigit(), line
    return [line.split("\t") for line in lines[:-1]]


# --- import-students --------------------------------------------------------------------------------------------


def test_clean_file_is_imported_with_exit_0_and_a_summary(runner, db, school, tmp_path):
    path = write_xlsx(tmp_path / "学生.xlsx", rows(3))
    result = runner.invoke(args=["import-students", path, "--school", SCHOOL])
    assert result.exit_code == 0, result.output
    assert problem_lines(result) == []
    assert result.stdout.splitlines()[-1] == "导入完成：3 行，新增 3，更新 0，未变 0，拒绝 0，警告 0"
    assert written(db) == (3, 3, 3, 1)

    again = runner.invoke(args=["import-students", path, "--school", SCHOOL])
    assert again.exit_code == 0
    assert again.stdout.splitlines()[-1] == "导入完成：3 行，新增 0，更新 0，未变 3，拒绝 0，警告 0"
    assert written(db)[:3] == (3, 3, 3)


def test_file_with_problems_exits_1_lists_each_problem_and_writes_nothing(runner, db, school, tmp_path):
    data = rows(3)
    data[2][col("联系电话")] = "12345"
    data[0][col("性别")] = "男\t女"  # a TAB inside a value does not break the line format
    data[0][col("入学年月")] = 2015.1  # and a warning on the same file
    path = write_xlsx(tmp_path / "学生.xlsx", data)

    result = runner.invoke(args=["import-students", path, "--school", SCHOOL])

    assert result.exit_code == 1
    lines = problem_lines(result)
    assert [(r, c) for r, c, _v, _m in lines] == [("3", "性别"), ("3", "入学年月"), ("5", "联系电话")]
    assert lines[0][2] == "男 女" and "不是可选的选项" in lines[0][3]
    assert lines[1][3].startswith("警告:")
    assert lines[2][2] == "12345" and lines[2][3].startswith("电话号码格式不正确")
    assert result.stdout.splitlines()[-1] == "检查未通过：3 行，2 处错误，1 处警告；未写入任何数据"
    assert written(db) == (0, 0, 0, 0)


def test_a_county_code_not_in_the_list_is_refused_unless_its_row_is_kept(runner, db, school, tmp_path):
    data = rows(2)
    data[1][col("户口所在地行政区划")] = "520199000000"
    path = write_xlsx(tmp_path / "学生.xlsx", data)
    refused = runner.invoke(args=["import-students", path, "--school", SCHOOL])
    assert refused.exit_code == 1 and written(db)[0] == 0
    [line] = problem_lines(refused)
    assert line[:3] == ["4", "户口所在地行政区划", "520199000000"] and "保留原值" in line[3]
    result = runner.invoke(args=["import-students", path, "--school", SCHOOL, "--keep-row", "4"])
    assert result.exit_code == 0, result.output
    [line] = problem_lines(result)
    assert line[:3] == ["4", "户口所在地行政区划", "520199000000"]
    assert line[3].startswith("警告: ") and "已按您的选择保留原值" in line[3]
    assert result.stdout.splitlines()[-1].endswith("警告 1")
    assert written(db)[0] == 2


def test_check_option_only_checks_and_writes_nothing(runner, db, school, tmp_path):
    path = write_xlsx(tmp_path / "学生.xlsx", rows(2))
    result = runner.invoke(args=["import-students", path, "--school", SCHOOL, "--check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("检查通过：2 行，0 处警告")
    assert written(db) == (0, 0, 0, 0)

    bad = rows(2)
    bad[1][col("邮政编码")] = "55"
    path = write_xlsx(tmp_path / "有错.xlsx", bad)
    result = runner.invoke(args=["import-students", path, "--school", SCHOOL, "--check"])
    assert result.exit_code == 1
    assert [(r, c) for r, c, _v, _m in problem_lines(result)] == [("4", "邮政编码")]
    assert written(db) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200, "照片.png", "无法识别的文件类型",
                     id="png"),
        pytest.param(b"PK\x03\x04 this is not a workbook", "学生.xlsx", "文件已损坏", id="corrupt-zip"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le"),
                     "学生.xlsx", "密码", id="password-protected"),
        pytest.param("编号,名字\n1,张三\n".encode(), "学生.csv", "没有找到表头", id="no-header"),
    ],
)
def test_unreadable_file_exits_2_with_the_reason_on_stderr(runner, db, school, tmp_path, content, name, expected):
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(args=["import-students", str(path), "--school", SCHOOL])
    assert result.exit_code == 2
    assert result.stderr.startswith("无法读取文件：") and expected in result.stderr
    assert result.stdout == ""
    assert written(db) == (0, 0, 0, 0)


def test_csv_file_is_imported_like_a_workbook(runner, db, school, tmp_path):
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    writer.writerows(rows(2))
    path = tmp_path / "学生.csv"
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    result = runner.invoke(args=["import-students", str(path), "--school", SCHOOL])
    assert result.exit_code == 0, result.output
    assert written(db)[0] == 2


def test_unknown_school_is_an_error(runner, db, school, tmp_path):
    path = write_xlsx(tmp_path / "学生.xlsx", rows(1))
    result = runner.invoke(args=["import-students", path, "--school", "5299999999"])
    assert result.exit_code == 1
    assert "没有学校标识码为 5299999999 的学校" in result.stderr
    assert written(db) == (0, 0, 0, 0)
    for args in (["export-students", "--school", "5299999999", "-o", str(tmp_path / "a.xlsx")],
                 ["export-changes", "--school", "5299999999", "-o", str(tmp_path / "b.xlsx")]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and "5299999999" in result.stderr
    assert not (tmp_path / "a.xlsx").exists() and not (tmp_path / "b.xlsx").exists()


# --- exports ----------------------------------------------------------------------------------------------------


def _names(path) -> list[str]:
    sheet = load_workbook(path).active
    assert sheet.cell(row=2, column=col("姓名") + 1).value == "姓名"
    return sorted(r[col("姓名")] for r in sheet.iter_rows(min_row=3, values_only=True))


def test_export_students_writes_the_school_or_one_class(runner, db, school, tmp_path):
    data = [student_row(0, SCHOOL), student_row(1, SCHOOL), student_row(48, SCHOOL)]  # 0 and 48: 1年级 1班
    runner.invoke(args=["import-students", write_xlsx(tmp_path / "学生.xlsx", data), "--school", SCHOOL])
    names = [row[col("姓名")] for row in data]

    everyone = tmp_path / "全校.xlsx"
    result = runner.invoke(args=["export-students", "--school", SCHOOL, "-o", str(everyone)])
    assert result.exit_code == 0, result.output
    assert f"已导出到 {everyone}" in result.stdout
    assert _names(everyone) == sorted(names)

    one_class = tmp_path / "一班.xlsx"
    result = runner.invoke(args=["export-students", "--school", SCHOOL, "--class", "1年级 1班", "-o", str(one_class)])
    assert result.exit_code == 0, result.output
    assert _names(one_class) == sorted([names[0], names[2]])

    by_name_only = tmp_path / "二班.xlsx"
    result = runner.invoke(args=["export-students", "--school", SCHOOL, "--class", "2班", "-o", str(by_name_only)])
    assert result.exit_code == 0, result.output
    assert _names(by_name_only) == [names[1]]


@pytest.mark.parametrize("spelling", ["1年级1班", "1年级 1班", "1年级１班", "2020010101"])
def test_export_students_takes_a_class_as_print_sheets_does(runner, db, school, tmp_path, spelling):
    data = [student_row(0, SCHOOL), student_row(1, SCHOOL)]
    data[0][HEADERS.index("班号")] = "2020010101"
    runner.invoke(args=["import-students", write_xlsx(tmp_path / "学生.xlsx", data), "--school", SCHOOL])
    target = tmp_path / "x.xlsx"
    result = runner.invoke(args=["export-students", "--school", SCHOOL, "--class", spelling, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert _names(target) == [data[0][col("姓名")]]


@pytest.mark.parametrize("command", ["export-students", "print-sheets"])
def test_a_class_that_does_not_exist_is_an_error_naming_the_classes_and_codes_there_are(
        runner, db, school, tmp_path, command):
    data = [student_row(0, SCHOOL), student_row(1, SCHOOL)]
    data[0][HEADERS.index("班号")] = "2020010101"
    runner.invoke(args=["import-students", write_xlsx(tmp_path / "学生.xlsx", data), "--school", SCHOOL])
    make_campaign(db, school)
    db.commit()
    target = tmp_path / "x.out"
    result = runner.invoke(args=[command, "--school", SCHOOL, "--class", "2099999999", "-o", str(target)])
    assert result.exit_code == 1
    assert "找不到班级“2099999999”。本校现有的班级：1年级 1班（班号 2020010101）、2年级 2班" in result.output
    assert not target.exists()


def test_export_changes_writes_the_running_campaigns_corrections(runner, db, school, tmp_path):
    runner.invoke(args=["import-students", write_xlsx(tmp_path / "学生.xlsx", rows(2)), "--school", SCHOOL])
    campaign = make_campaign(db, school)
    student = db.scalar(select(Student).where(Student.name == student_row(1, SCHOOL)[col("姓名")]))
    parent = make_parent(db, student)
    save_corrections(db, ensure_confirmation(db, campaign, student), {(0, "current_address"): "新地址9号"},
                     actor=Actor("parent", parent.id))
    db.commit()

    target = tmp_path / "更正.xlsx"
    result = runner.invoke(args=["export-changes", "--school", SCHOOL, "-o", str(target)])

    assert result.exit_code == 0, result.output
    sheet_rows = [list(r) for r in load_workbook(target).active.iter_rows(values_only=True)]
    assert sheet_rows[0] == list(CHANGE_HEADERS)
    assert [r[1:5] for r in sheet_rows[1:]] == [[student.name, "现住址", student.value("current_address"),
                                                 "新地址9号"]]


# --- re-importing during a campaign ----------------------------------------------------------------------------


def _campaign_changes(db, school) -> tuple[Student, FieldCorrection]:
    """Row 0's student with an applied 现住址 correction and a 联系电话 correction the parent has not handed in."""
    campaign = make_campaign(db, school)
    student = db.scalar(select(Student).where(Student.name == student_row(0, SCHOOL)[col("姓名")]))
    confirmation = ensure_confirmation(db, campaign, student)
    confirmation.corrections.append(FieldCorrection(
        slot=0, field_key="current_address", old_value=student.value("current_address"), new_value="新家路8号",
        status="applied", requested_by_kind="parent", requested_by_id=0))
    student.set_value("current_address", "新家路8号")
    pending = FieldCorrection(slot=0, field_key="phone", old_value=student.value("phone"), new_value="13912345678",
                              status="draft", requested_by_kind="parent", requested_by_id=0)
    confirmation.corrections.append(pending)
    db.commit()
    return student, pending


def _reimport(runner, db, school, tmp_path, *options):
    data = rows(2)
    path = write_xlsx(tmp_path / "学生.xlsx", data)
    assert runner.invoke(args=["import-students", path, "--school", SCHOOL]).exit_code == 0
    student, pending = _campaign_changes(db, school)
    data[0][col("联系电话")] = "13700001111"  # the file differs on the pending field too
    path = write_xlsx(tmp_path / "再次.xlsx", data)
    return runner.invoke(args=["import-students", path, "--school", SCHOOL, *options]), student, pending, data


def test_reimport_keeps_the_platforms_values_for_fields_the_campaign_changed_and_prints_them(
        runner, db, school, tmp_path):
    first = rows(1)[0]
    result, student, pending, _data = _reimport(runner, db, school, tmp_path)

    assert result.exit_code == 0, result.output
    address, phone = first[col("现住址")], first[col("联系电话")]
    assert problem_lines(result) == [
        ["3", "现住址", address,
         f"与本次核查不一致（更正已生效）：核查开始时“{address}”，平台现在“新家路8号”；已保留平台的值"],
        ["3", "联系电话", "13700001111",
         f"与本次核查不一致（更正家长未提交，改为“13912345678”）：核查开始时“{phone}”，平台现在“{phone}”；已保留平台的值"],
    ]
    assert result.stdout.splitlines()[-1] == ("导入完成：2 行，新增 0，更新 0，未变 2，拒绝 0，警告 0，"
                                              "与核查不一致 2 项（保留平台的值 2，采用文件的值 0）")
    db.expire_all()
    kept = db.get(Student, student.id)
    assert (kept.value("current_address"), kept.value("phone")) == ("新家路8号", phone)
    assert db.get(FieldCorrection, pending.id).status == "draft"


def test_take_file_values_takes_the_files_values_and_leaves_pending_corrections_pending(runner, db, school, tmp_path):
    result, student, pending, data = _reimport(runner, db, school, tmp_path, "--take-file-values")

    assert result.exit_code == 0, result.output
    assert [line[3].rsplit("；", 1)[1] for line in problem_lines(result)] == ["已采用文件的值", "已采用文件的值"]
    assert result.stdout.splitlines()[-1].endswith(
        "更新 1，未变 1，拒绝 0，警告 0，与核查不一致 2 项（保留平台的值 0，采用文件的值 2）")
    db.expire_all()
    taken = db.get(Student, student.id)
    assert (taken.value("current_address"), taken.value("phone")) == (data[0][col("现住址")], "13700001111")
    assert db.get(FieldCorrection, pending.id).status == "draft"
    assert sorted(db.scalars(select(AuditEvent.detail["field"].as_string())
                             .where(AuditEvent.action == "import_conflict.file_taken"))) == ["0.current_address",
                                                                                               "0.phone"]


def test_check_option_says_what_a_reimport_would_keep_and_writes_nothing(runner, db, school, tmp_path):
    result, _student, _pending, _data = _reimport(runner, db, school, tmp_path, "--check")

    assert result.exit_code == 0, result.output
    assert [line[3].rsplit("；", 1)[1] for line in problem_lines(result)] == ["将保留平台的值", "将保留平台的值"]
    assert result.stdout.splitlines()[-1] == (
        "检查通过：2 行，0 处警告，与核查不一致 2 项（保留平台的值 2，采用文件的值 0）"
        "（未导入，去掉 --check 即可导入）")
    assert written(db)[3] == 1  # only the first import's run


def test_import_help_names_the_take_file_values_option(runner):
    result = runner.invoke(args=["import-students", "--help"])
    assert result.exit_code == 0
    assert "--take-file-values" in result.output and "keeping the platform's" in result.output


def test_another_schools_file_exits_1_with_the_reason_and_writes_nothing(runner, db, school, tmp_path):
    path = write_xlsx(tmp_path / "外校.xlsx", [student_row(i, "5200000002") for i in range(2)])
    result = runner.invoke(args=["import-students", path, "--school", SCHOOL])
    assert result.exit_code == 1
    assert "这是另一所学校的学生名单（文件中的学校标识码为 5200000002），不是本校（5200000001）的" in result.stderr
    assert result.stdout == ""
    assert written(db) == (0, 0, 0, 0)
