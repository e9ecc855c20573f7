"""Codes and numbers typed with a Chinese input method (full-width forms, Chinese dashes) read as what was meant."""

from __future__ import annotations

from datetime import date

import pytest

from confirm.fields import member_field, student_field
from confirm.folding import fold_code, fold_digits
from confirm.security import normalize_registration_code
from confirm.services.login import login_name
from confirm.validation import clean_value, make_resident_id, mobile_number

TODAY = date(2026, 9, 1)


@pytest.mark.parametrize("typed", ["Ｄ３７６－ＵＧ２３", "ｄ３７６ ＵＧ２３", "D376—UG23", "d376–ug23", "D376‐UG23",
                                   "D376﹣UG23", "Ｄ３７６　ＵＧ２３", " D376UG23 ", "d376-ug23\u200b"])
def test_registration_code_typed_in_full_width_or_with_chinese_dashes_matches_the_issued_code(typed):
    assert normalize_registration_code(typed) == "D376-UG23"


def test_folding_changes_only_width_dashes_and_spaces_never_chinese_text():
    assert fold_code("北京市海淀区３号楼—２单元") == "北京市海淀区3号楼-2单元"
    assert fold_code("一二三") == "一二三"
    assert fold_code(None) == ""
    assert fold_digits("１３８　００１３－８０００") == "13800138000"


@pytest.mark.parametrize("typed", ["１３８００１３８０００", "138－0013－8000", "138—0013—8000", "+８６ 138 0013 8000",
                                   "138\u30000013\u30008000"])
def test_mobile_numbers_typed_in_full_width_or_with_chinese_dashes_are_read(typed):
    assert mobile_number(typed) == "13800138000"


def test_resident_id_typed_in_full_width_with_a_full_width_x_is_read():
    number = next(n for n in (make_resident_id("110105", date(2015, 3, 8), seq, "1") for seq in range(500))
                  if n.endswith("X"))
    typed = number[:-1].translate({cp: cp + 0xFEE0 for cp in range(0x30, 0x3A)}) + "ｘ"
    value, errors, _ = clean_value(student_field("id_number"), typed, today=TODAY)
    assert (value, errors) == (number, [])


@pytest.mark.parametrize(("key", "typed", "expected"), [
    ("birth_date", "２０１５—０３—０８", "20150308"),
    ("postcode", "１００　０８５", "100085"),
    ("commute_distance_km", "３．５", "3.5"),
])
def test_other_number_fields_fold_full_width_digits_and_dashes(key, typed, expected):
    value, errors, _ = clean_value(student_field(key), typed, today=TODAY)
    assert (value, errors) == (expected, [])


def test_a_family_phone_typed_with_chinese_dashes_is_stored_as_digits():
    value, errors, _ = clean_value(member_field("phone"), "１３９—１２３４—５６７８", today=TODAY)
    assert (value, errors) == ("13912345678", [])


@pytest.mark.parametrize(("typed", "expected"), [
    ("１２３４５６７８", "12345678"),  # a platform number
    ("139－1234－5678", "13912345678"),  # a phone typed in groups
    ("ｔｅａｃｈｅｒ＿ａ", "teacher_a"),
    ("wang-li", "wang-li"),  # a username keeps its dash
])
def test_login_names_fold_full_width_and_drop_the_dashes_of_numbers_only(typed, expected):
    assert login_name(typed) == expected
