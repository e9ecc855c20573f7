"""The template check of a student file (学籍模板检查): reading the upload, finding the header, every cell and
record checked, duplicates in the file (查重) — on workbooks built here, mostly without a database."""

from __future__ import annotations

import csv
import io
import random
import time
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from PIL import Image

from benchmarks._template import student_row
from confirm.importing import reader
from confirm.importing.annotate import annotated_workbook
from confirm.importing.checker import CheckResult, OtherSchoolFile, check_table
from confirm.importing.reader import UnreadableFile, open_table
from confirm.importing.service import check_file
from confirm.template import EXPORT_COLUMNS
from tests.factories import make_school

SCHOOL = "5200000001"
TODAY = date(2026, 3, 1)
HEADERS = [c.header for c in EXPORT_COLUMNS]
CODES = [c.code for c in EXPORT_COLUMNS]


def col(header: str) -> int:
    """The index of ``header`` in a row of EXPORT_COLUMNS order."""
    return HEADERS.index(header)


def letter(header: str) -> str:
    """The Excel column letter of ``header`` in the workbooks built here."""
    return get_column_letter(col(header) + 1)


def rows(n: int, start: int = 0, school: str = SCHOOL) -> list[list]:
    return [student_row(i, school) for i in range(start, start + n)]


def xlsx(data_rows, *, headers=HEADERS, above=(CODES,), below=(), edit=None) -> bytes:
    """A workbook: the rows ``above`` the header (by default the KD codes row), the header, ``below`` it, data."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "学生信息"
    for row in above:
        sheet.append(list(row))
    sheet.append(list(headers))
    for row in below:
        sheet.append(list(row))
    for row in data_rows:
        sheet.append(list(row))
    if edit is not None:
        edit(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(data_rows, headers=HEADERS, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(data_rows)
    return out.getvalue().encode(encoding)


def check(data: bytes, filename: str = "学生.xlsx", school_code: str = SCHOOL) -> CheckResult:
    return check_table(open_table(data, filename), school_code=school_code, today=TODAY)


def found(result: CheckResult) -> list[tuple[int, str, str]]:
    """Each problem as (row, column, message)."""
    return [(p.row, p.column, str(p.message)) for p in result.problems]


def unreadable(data: bytes, filename: str) -> str:
    with pytest.raises(UnreadableFile) as caught:
        open_table(data, filename)
    return str(caught.value.message)


# --- clean files and header detection -------------------------------------------------------------------------


def test_clean_file_has_no_problems_and_rows_are_numbered_as_excel_shows_them():
    result = check(xlsx(rows(3)))
    assert result.problems == []
    assert result.is_clean and result.total_rows == 3
    assert [r.row for r in result.rows] == [3, 4, 5]  # KD row 1, header row 2, data from row 3
    first = result.rows[0]
    expected = student_row(0, SCHOOL)
    assert first.values["name"] == expected[col("姓名")]
    assert first.values["gender"] == "2" and first.values["ethnicity"] == "01" and first.values["id_type"] == "1"
    assert first.values["id_number"] == expected[col("身份证件号")]
    assert first.members[1]["relation"] == "1" and first.members[2] == {}
    assert (first.grade, first.class_name, first.class_code) == ("1年级", "1班", "")


@pytest.mark.parametrize(
    ("above", "below", "header_row", "first_data_row"),
    [
        pytest.param((), (), 1, 2, id="only-the-chinese-header-row"),
        pytest.param((), (CODES,), 1, 3, id="kd-codes-row-after-the-header"),
        pytest.param((CODES,), (), 2, 3, id="kd-codes-row-before-the-header"),
        pytest.param((["全国中小学生学籍信息管理系统 学生信息模板"],), (), 2, 3, id="title-row-above"),
        pytest.param((["学生信息"], [], CODES), (), 4, 5, id="title-blank-and-codes-rows-above"),
    ],
)
def test_header_row_is_found_by_its_content(above, below, header_row, first_data_row):
    table = open_table(xlsx(rows(2), above=above, below=below), "学生.xlsx")
    assert table.header_row == header_row
    result = check_table(table, school_code=SCHOOL, today=TODAY)
    assert result.problems == []
    assert [r.row for r in result.rows] == [first_data_row, first_data_row + 1]


def test_table_that_starts_below_and_right_of_a1_keeps_excel_row_and_column_numbers():
    data = rows(3)
    data[1][col("联系电话")] = "12345"

    def formula(sheet):
        sheet[f"{get_column_letter(col('姓名') + 2)}7"] = "=A1&B1"

    payload = xlsx([[None, *row] for row in data], headers=[None, *HEADERS], above=([], [], [None, *CODES]),
                   edit=formula)
    table = open_table(payload, "学生.xlsx")
    assert table.header_row == 4
    result = check_table(table, school_code=SCHOOL, today=TODAY)
    assert [(p.row, p.column) for p in result.problems] == [(6, "联系电话"), (7, "姓名")]
    assert [r.row for r in result.rows] == [5, 6, 7]
    assert result.rows[0].values["name"] == data[0][col("姓名")]

    sheet = load_workbook(io.BytesIO(annotated_workbook(payload, "学生.xlsx", result))).active
    marked = {c.coordinate for row in sheet.iter_rows() for c in row if c.comment is not None}
    assert marked == {f"{get_column_letter(col('联系电话') + 2)}6", f"{get_column_letter(col('姓名') + 2)}7"}


def test_merged_title_above_the_header_is_not_a_merged_cell_problem():
    def merge_title(sheet):
        sheet.merge_cells("A1:H1")

    result = check(xlsx(rows(2), above=(["学生信息模板"],), edit=merge_title))
    assert result.problems == []
    assert [r.row for r in result.rows] == [3, 4]


def test_headers_with_stars_spaces_and_full_width_brackets_are_recognised():
    headers = list(HEADERS)
    headers[col("姓名")] = "★姓名"
    headers[col("性别")] = "性别★"
    headers[col("出生日期")] = "出生 日期"
    headers[col("上下学距离")] = "上下学距离（公里）"
    headers[col("国籍/地区")] = "*国籍/地区"
    data = rows(1)
    data[0][col("上下学距离")] = "2.5"
    result = check(xlsx(data, headers=headers))
    assert result.problems == []
    assert result.ignored_headers == []
    values = result.rows[0].values
    assert values["name"] == data[0][col("姓名")]
    assert values["gender"] == "2" and values["birth_date"] == data[0][col("出生日期")]
    assert values["commute_distance_km"] == "2.5" and values["nationality"] == "CHN"


def test_later_template_variant_spellings_are_read_into_the_same_fields():
    renamed = {"上下学方式": "上下学交通方式", "是否需要乘坐校车": "是否乘坐校车",
               "是否进城务工人员随迁子女": "是否随迁子女", "是否留守儿童": "是否农村留守儿童"}
    headers = [renamed.get(h, h) for h in HEADERS]
    data = rows(1)
    data[0][col("上下学方式")] = "步行"
    data[0][col("是否需要乘坐校车")] = "是"
    data[0][col("是否进城务工人员随迁子女")] = "是"
    data[0][col("是否留守儿童")] = "单亲留守儿童"
    result = check(xlsx(data, headers=headers))
    assert result.problems == [] and result.ignored_headers == []
    values = result.rows[0].values
    assert (values["commute_mode"], values["school_bus"], values["migrant_child"], values["left_behind"]) == (
        "1", "1", "1", "1")


def test_unknown_extra_columns_are_ignored_and_listed():
    headers = ["校区号", *HEADERS, "备注"]
    data = [["01", *row, "转学生"] for row in rows(2)]
    result = check(xlsx(data, headers=headers, above=()))
    assert result.problems == []
    assert result.ignored_headers == ["校区号", "备注"]
    assert result.rows[0].values["name"] == data[0][1 + col("姓名")]
    assert "备注" not in result.rows[0].values.values() and "转学生" not in result.rows[0].values.values()


def test_csv_file_is_read_like_a_workbook_in_utf8_and_gb18030():
    for encoding in ("utf-8-sig", "gb18030"):
        result = check(csv_bytes(rows(2), encoding=encoding), "学生.csv")
        assert result.problems == [], encoding
        assert [r.row for r in result.rows] == [2, 3]
        assert result.rows[0].values["name"] == student_row(0, SCHOOL)[col("姓名")]


# --- files that cannot be read ----------------------------------------------------------------------------------


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


CFB_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        pytest.param(b"", "学生.xlsx", "文件是空的", id="empty"),
        pytest.param(_png(), "学生.png", "无法识别的文件类型", id="png-image"),
        pytest.param(_png(), "学生.xlsx", "文件已损坏", id="png-named-xlsx"),
        pytest.param(random.Random(7).randbytes(20_000), "学生.dat", "无法识别的文件类型", id="random-bytes"),
        pytest.param("姓名,性别\n张三,男\n".encode(), "学生.xlsx", "文件已损坏", id="text-named-xlsx"),
        pytest.param(CFB_MAGIC + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 2000,
                     "学生.xlsx", "工作簿设置了打开密码", id="password-protected"),
        pytest.param(xlsx(rows(3))[:1500], "学生.xlsx", "文件已损坏", id="truncated-xlsx"),
    ],
)
def test_file_that_cannot_be_read_is_refused_with_a_message_for_the_admin(data, filename, expected):
    assert expected in unreadable(data, filename)


def test_ole2_file_without_encryption_is_not_called_password_protected():
    fake_xls = CFB_MAGIC + b"\x00" * 504 + "Workbook".encode("utf-16-le") + b"\x00" * 2000
    message = unreadable(fake_xls, "学生.xls")
    assert "密码" not in message
    assert "旧版 Excel" in message or "文件已损坏" in message


def test_zip_that_is_not_a_workbook_is_reported_as_damaged():
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    assert "文件已损坏" in unreadable(out.getvalue(), "学生.xlsx")


def test_sheet_without_a_recognisable_header_is_refused():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编号", "名字", "备注"])
    sheet.append(["1", "张三", ""])
    out = io.BytesIO()
    workbook.save(out)
    assert "没有找到表头" in unreadable(out.getvalue(), "学生.xlsx")
    # two template headers are not enough to be sure this is the header row
    assert "没有找到表头" in unreadable("姓名,性别,其他\n张三,男,x\n".encode(), "学生.csv")


def test_header_on_a_second_sheet_is_found():
    workbook = Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["请按模板填写"])
    sheet = workbook.create_sheet("学生信息")
    sheet.append(HEADERS)
    for row in rows(2):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    table = open_table(out.getvalue(), "学生.xlsx")
    assert (table.sheet_name, table.header_row) == ("学生信息", 1)


# --- problems in cells and rows ---------------------------------------------------------------------------------


def test_formula_cell_is_a_problem_on_that_cell_only():
    def add_formula(sheet):
        sheet[f"{letter('姓名')}4"] = "=A1&B1"

    result = check(xlsx(rows(3), edit=add_formula))
    assert found(result) == [(4, "姓名", "单元格是公式，请复制后“选择性粘贴为数值”再导入")]
    assert not result.is_clean
    assert [r.row for r in result.rows] == [3, 4, 5]


def test_merged_cells_in_the_data_area_are_a_problem():
    data = rows(3)
    data[0][col("特长")] = "书法"

    def merge(sheet):
        sheet.merge_cells(f"{letter('特长')}3:{letter('特长')}4")

    result = check(xlsx(data, edit=merge))
    ref = f"{letter('特长')}3:{letter('特长')}4"
    assert found(result) == [(3, ref, f"存在合并单元格（{ref}），请取消合并后再导入")]


def test_empty_rows_are_skipped_and_later_rows_keep_their_excel_numbers():
    data = rows(3)
    data[2][col("联系电话")] = "12345"
    blank = [""] * len(HEADERS)
    spaces = ["  "] * 5
    result = check(xlsx([data[0], [], data[1], blank, spaces, data[2]]))
    assert [r.row for r in result.rows] == [3, 5, 8]
    assert result.total_rows == 3
    assert [(p.row, p.column) for p in result.problems] == [(8, "联系电话")]


@pytest.mark.slow
def test_fifty_thousand_rows_are_checked_in_reasonable_time():
    data = rows(50_000)
    data[-1][col("联系电话")] = "12345"  # one bad cell in the very last row
    payload = csv_bytes(data)
    started = time.perf_counter()
    result = check(payload, "学生.csv")
    elapsed = time.perf_counter() - started
    assert result.total_rows == 50_000 and len(result.rows) == 50_000
    assert [(p.row, p.column) for p in result.problems] == [(50_001, "联系电话")]
    assert result.rows[-1].row == 50_001
    assert elapsed < 60, f"checking 50,000 rows took {elapsed:.1f}s"


def test_file_over_the_row_limit_is_refused(monkeypatch):
    monkeypatch.setattr(reader, "MAX_ROWS", 3)
    with pytest.raises(UnreadableFile) as caught:
        check(xlsx(rows(4)))
    assert "文件超过 3 行" in str(caught.value.message)
    assert len(check(xlsx(rows(3))).rows) == 3


def test_very_long_cell_gets_a_length_message_and_is_shown_shortened():
    data = rows(2)
    data[1][col("现住址")] = "长" * 10_000
    result = check(xlsx(data))
    assert found(result) == [(4, "现住址", "内容过长：最多200个字，现在是10000个字")]
    shown = result.problems[0].value
    assert len(shown) == 51 and shown.endswith("…") and shown.startswith("长" * 50)


@pytest.mark.parametrize(
    "cell",
    [
        pytest.param(520102200801010003.0, id="number"),
        pytest.param("5.20102E+17", id="scientific-notation-text"),
    ],
)
def test_id_number_stored_as_a_number_is_refused(cell):
    data = rows(2)
    data[1][col("身份证件号")] = cell
    result = check(xlsx(data))
    assert [(p.row, p.column) for p in result.problems] == [(4, "身份证件号")]
    assert "被存成了数字" in str(result.problems[0].message)


def test_full_width_digits_and_lowercase_x_in_an_id_number_are_normalised():
    data = rows(8)  # student 7's ID ends with X
    expected = data[7][col("身份证件号")]
    assert expected.endswith("X")
    wide = expected[:-1].translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}) + "x"
    data[7][col("身份证件号")] = f" {wide} "
    data[1][col("身份证件号")] = data[1][col("身份证件号")].translate(
        {ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    result = check(xlsx(data))
    assert result.problems == []
    assert result.rows[7].values["id_number"] == expected
    assert result.rows[1].values["id_number"] == student_row(1, SCHOOL)[col("身份证件号")]


def test_excel_date_cells_are_accepted_for_dates_and_year_months():
    data = rows(2)
    birth = data[1][col("出生日期")]
    data[1][col("出生日期")] = datetime(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    data[1][col("入学年月")] = datetime(2020, 9, 1)
    result = check(xlsx(data))
    assert result.problems == []
    assert result.rows[1].values["birth_date"] == birth
    assert result.rows[1].values["enroll_ym"] == "202009"


def test_same_id_number_twice_in_the_file_is_a_problem_on_the_second_row_naming_the_first():
    data = rows(3)
    data[2][col("身份证件号")] = data[0][col("身份证件号")]
    data[2][col("出生日期")] = data[0][col("出生日期")]
    data[2][col("性别")] = data[0][col("性别")]
    result = check(xlsx(data))
    assert found(result) == [(5, "身份证件号", "身份证件号与第 3 行重复")]
    assert data[0][col("身份证件号")] not in result.problems[0].value  # the full number is not repeated


def test_students_without_id_with_the_same_name_gender_and_birth_date_are_reported():
    data = [student_row(5, SCHOOL), student_row(6, SCHOOL), student_row(5, SCHOOL)]
    for row in (data[0], data[2]):
        row[col("身份证件类型")] = "其他"
        row[col("身份证件号")] = ""
    result = check(xlsx(data))
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (problem.row, problem.column, problem.value) == (5, "姓名", data[0][col("姓名")])
    assert "与第 3 行相同" in str(problem.message)


def test_missing_required_columns_are_reported_once_at_the_header_row():
    dropped = {"现住址", "成员1姓名"}
    keep = [i for i, h in enumerate(HEADERS) if h not in dropped]
    headers = [HEADERS[i] for i in keep]
    data = [[row[i] for i in keep] for row in rows(3)]
    result = check(xlsx(data, headers=headers))
    assert sorted(found(result)) == [(2, "成员1姓名", "缺少必填列“成员1姓名”"), (2, "现住址", "缺少必填列“现住址”")]


def test_file_without_class_columns_cannot_be_placed_in_classes():
    keep = [i for i, h in enumerate(HEADERS) if h not in {"班号", "年级", "班级"}]
    data = [[row[i] for i in keep] for row in rows(2)]
    result = check(xlsx(data, headers=[HEADERS[i] for i in keep]))
    assert found(result) == [(2, "班号", "缺少“班号”列（或“年级”和“班级”两列），无法分班")]


def test_row_without_class_is_a_problem_on_that_row():
    data = rows(2)
    data[1][col("年级")] = ""
    data[1][col("班级")] = ""
    result = check(xlsx(data))
    assert found(result) == [(4, "班号", "请填写班号（或年级和班级）")]


def test_grade_or_class_code_longer_than_a_class_can_hold_is_a_problem():
    data = rows(3)
    data[0][col("年级")] = "年" * 21
    data[1][col("班号")] = "9" * 21
    data[2][col("班级")] = "班" * 40  # fits
    result = check(xlsx(data))
    assert found(result) == [
        (3, "年级", "内容过长：最多20个字，现在是21个字"),
        (4, "班号", "内容过长：最多20个字，现在是21个字"),
    ]


def test_school_code_that_differs_from_the_target_school_is_a_problem_on_each_row():
    result = check(xlsx(rows(2, school="5200000002")))
    assert found(result) == [
        (3, "学校标识码", "学校标识码与导入的学校（5200000001）不一致"),
        (4, "学校标识码", "学校标识码与导入的学校（5200000001）不一致"),
    ]
    assert all(r.values["school_code"] == SCHOOL for r in result.rows)


def test_check_file_checks_against_the_school_it_imports_into(session):
    school = make_school(session, code="5200000003")
    mixed = rows(1, school="5200000003") + rows(1, start=1)
    result = check_file(session, school, xlsx(mixed), "学生.xlsx", today=TODAY)
    assert found(result) == [(4, "学校标识码", "学校标识码与导入的学校（5200000003）不一致")]
    assert check_file(session, school, xlsx(rows(1, school="5200000003")), "学生.xlsx", today=TODAY).is_clean


def test_check_file_refuses_another_schools_file_as_a_whole(session):
    school = make_school(session, code="5200000003")
    with pytest.raises(OtherSchoolFile) as refused:
        check_file(session, school, xlsx(rows(2) + rows(1, start=2, school="5200000004")), "学生.xlsx", today=TODAY)
    assert str(refused.value.message) == (
        "这是另一所学校的学生名单（文件中的学校标识码为 5200000001、5200000004），不是本校（5200000003）的；"
        "没有导入任何数据，请选择本校的文件")


def test_sheet_with_a_header_and_no_data_rows_is_a_problem():
    result = check(xlsx([]))
    assert found(result) == [(2, "", "表头下面没有学生数据")]
    assert result.total_rows == 0


def test_every_problem_of_every_row_is_reported_not_only_the_first():
    data = rows(3)
    data[0][col("性别")] = "未知"
    data[0][col("邮政编码")] = "55"
    data[2][col("民族")] = "火星族"
    result = check(xlsx(data))
    assert [(p.row, p.column) for p in result.problems] == [(3, "性别"), (3, "邮政编码"), (5, "民族")]


# --- the annotated workbook -------------------------------------------------------------------------------------


def _commented(data: bytes, filename: str, result: CheckResult) -> dict[str, str]:
    sheet = load_workbook(io.BytesIO(annotated_workbook(data, filename, result))).active
    return {c.coordinate: c.comment.text for row in sheet.iter_rows() for c in row if c.comment is not None}


def test_annotation_finds_columns_spelled_the_later_way_or_with_full_width_brackets():
    headers = list(HEADERS)
    headers[col("上下学方式")] = "上下学交通方式"
    headers[col("上下学距离")] = "上下学距离（公里）"
    data = rows(2)
    data[1][col("上下学方式")] = "飞行"
    data[1][col("上下学距离")] = "很远"
    payload = xlsx(data, headers=headers)
    result = check(payload)
    assert [(p.row, p.column) for p in result.problems] == [(4, "上下学距离"), (4, "上下学方式")]
    notes = _commented(payload, "学生.xlsx", result)
    assert set(notes) == {f"{letter('上下学方式')}4", f"{letter('上下学距离')}4"}
    assert "不是可选的选项" in notes[f"{letter('上下学方式')}4"]


def test_annotated_csv_becomes_a_workbook_with_text_kept_as_text():
    data = rows(3)
    data[0][col("特长")] = "=1+1"
    data[2][col("联系电话")] = "12345"
    payload = csv_bytes(data)
    result = check(payload, "学生.csv")
    sheet = load_workbook(io.BytesIO(annotated_workbook(payload, "学生.csv", result))).active
    assert sheet.cell(row=1, column=col("姓名") + 1).value == "姓名"
    formula_like = sheet.cell(row=2, column=col("特长") + 1)
    assert (formula_like.value, formula_like.data_type) == ("=1+1", "s")
    bad = sheet.cell(row=4, column=col("联系电话") + 1)
    assert bad.value == "12345" and "电话号码格式不正确" in bad.comment.text


# --- warnings ---------------------------------------------------------------------------------------------------


def test_a_county_code_not_in_the_division_list_is_an_error_the_admin_may_keep():
    data = rows(2)
    data[1][col("出生地行政区划代码")] = "520199000000"
    result = check(xlsx(data))
    assert [(p.row, p.column, p.is_warning, p.is_keepable) for p in result.problems] == [
        (4, "出生地行政区划代码", False, True)]
    assert "不在现行的区划代码表中" in str(result.problems[0].message) and "保留原值" in str(result.problems[0].message)
    assert not result.is_clean


def test_a_kept_county_code_is_a_warning_and_the_value_is_kept():
    data = rows(2)
    data[1][col("出生地行政区划代码")] = "520199000000"
    result = check_table(open_table(xlsx(data), "学生.xlsx"), school_code=SCHOOL, today=TODAY, kept_rows=frozenset({4}))
    assert [(p.row, p.column, p.is_warning) for p in result.problems] == [(4, "出生地行政区划代码", True)]
    assert "已按您的选择保留原值" in str(result.problems[0].message)
    assert result.is_clean and result.rows[1].values["birthplace_code"] == "520199000000"


def test_a_tiny_workbook_claiming_a_huge_range_is_refused_before_it_is_read():
    from openpyxl import Workbook as _Workbook

    from confirm.importing.reader import UnreadableFile, open_table

    workbook = _Workbook()
    workbook.active["A1"] = "姓名"
    workbook.active["XFD1048576"] = "x"
    out = io.BytesIO()
    workbook.save(out)
    with pytest.raises(UnreadableFile) as refused:
        open_table(out.getvalue(), "huge.xlsx")
    assert "范围过大" in str(refused.value.message)
