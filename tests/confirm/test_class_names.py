"""One way of naming a class for every command and page: 年级+班级, 班级 or 班号 (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from confirm.class_names import matching


@dataclass
class C:
    grade: str
    name: str
    class_code: str | None = None


CLASSES = [C("三年级", "1班", "2023030101"), C("三年级", "2班"), C("四年级", "1班", "2022040101")]


@pytest.mark.parametrize(("wanted", "expected"), [
    ("三年级1班", [CLASSES[0]]),
    ("三年级 1班", [CLASSES[0]]),
    ("  三年级　1班 ", [CLASSES[0]]),  # a full-width space, as typed in Chinese
    ("三年级１班", [CLASSES[0]]),  # a full-width digit
    ("2022040101", [CLASSES[2]]),  # 班号
    ("2班", [CLASSES[1]]),
    ("1班", [CLASSES[0], CLASSES[2]]),  # two grades have a 1班: the caller asks for the grade
    ("五年级1班", []),
    ("2099999999", []),
    ("", []),
])
def test_a_class_is_found_by_grade_and_name_by_name_or_by_its_code(wanted, expected):
    assert matching(CLASSES, wanted) == expected
