"""Synthetic national-template workbooks for the benchmarks (fake names, valid-checksum fake IDs)."""

from __future__ import annotations

from datetime import date, timedelta

from openpyxl import Workbook

from confirm.template import CLASS_CODE, CLASS_NAME, EXPORT_COLUMNS, GRADE
from confirm.validation import make_resident_id

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("子涵", "欣怡", "浩然", "梓萱", "宇轩", "思彤", "俊杰", "雨桐", "一诺", "明轩")
DIVISIONS = ("520102", "520103", "520111", "520112", "520113", "110105", "330106", "440305")


def student_row(i: int, school_code: str) -> list[str]:
    """Template row i: a complete, valid synthetic student with two family members."""
    gender = "男" if i % 2 else "女"
    birth = date(2008, 1, 1) + timedelta(days=i % 3650)  # (birth day, sequence) is unique for i < 1.8 million
    division = DIVISIONS[i % len(DIVISIONS)]
    id_number = make_resident_id(division, birth, i // 3650, "1" if i % 2 else "2")
    address = f"测试市测试路{i % 997 + 1}号"
    grade = f"{i % 6 + 1}年级"
    values = {
        "school_code": school_code, "name": SURNAMES[i % 20] + GIVEN[(i // 20) % 10] + str(i), "gender": gender,
        "birth_date": f"{birth:%Y%m%d}", "birthplace_code": division + "000000", "native_place": "测试省测试市",
        "ethnicity": "汉族", "nationality": "中国", "id_type": "居民身份证", "id_number": id_number, "hmtoc": "否",
        "health": "健康或良好", "hukou_place_code": division + "000000", "hukou_type": "非农业户口",
        "enroll_ym": "202009", "enroll_mode": "就近入学", "attend_mode": "走读", "current_address": address,
        "mailing_address": address, "home_address": address, "phone": f"139{i:08d}", "postcode": "550001",
        "only_child": "是", "preschool": "是", "left_behind": "非留守儿童", "migrant_child": "否", "orphan": "否",
        "martyr_child": "否", "needs_aid": "否", "one_subsidy": "否",
    }
    member = {"name": SURNAMES[i % 20] + "家长", "relation": "父亲", "current_address": address,
              "hukou_place_code": division + "000000", "phone": f"138{i:08d}", "is_guardian": "是",
              "id_type": "居民身份证",
              "id_number": make_resident_id(division, date(1975, 3, 1) + timedelta(days=i % 3650), i // 3650, "1")}
    row = []
    for column in EXPORT_COLUMNS:
        if column.special == CLASS_CODE:
            row.append("")
        elif column.special == GRADE:
            row.append(grade)
        elif column.special == CLASS_NAME:
            row.append(f"{i % 8 + 1}班")
        elif column.slot == 0:
            row.append(values.get(column.field.key, ""))
        elif column.slot == 1:
            row.append(member.get(column.field.key, ""))
        else:
            row.append("")
    return row


def write_template(path, n: int, school_code: str = "5200000001") -> None:
    """Write an n-student workbook in the national template layout (KD row, header row, data).

    A normal (not write-only) workbook, so strings go to the shared-strings table as Excel writes them.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "学生信息"
    sheet.append([c.code for c in EXPORT_COLUMNS])
    sheet.append([c.header for c in EXPORT_COLUMNS])
    for i in range(n):
        sheet.append(student_row(i, school_code))
    workbook.save(path)
