"""The national Excel template (学生信息模板) as columns, derived from the field schema.

Row layout we write: row 1 the internal codes KD_F01…KD_F72, row 2 the Chinese headers, data from row 3.
On import the header row is found by its content, so files with only the header row (or the codes
row first or second) are read the same. Two extra columns 年级 and 班级 follow F72 on export; the
later template variant names some columns differently, and both spellings are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from confirm.fields import MEMBER_FIELDS, MEMBER_SLOTS, STUDENT_FIELDS, Field, member_header

CLASS_CODE = "class_code"  # 班号 (F16)
GRADE = "grade"  # 年级 (later variant / our export)
CLASS_NAME = "class_name"  # 班级 (later variant / our export)


@dataclass(frozen=True)
class Column:
    """One template column: where its value goes (a field of a slot, or a class column)."""

    header: str
    spellings: tuple[str, ...]
    kd: int | None = None
    slot: int = 0
    field: Field | None = None
    special: str | None = None

    @property
    def code(self) -> str:
        """KD_Fnn, or "" for columns outside the numbered template."""
        return f"KD_F{self.kd:02d}" if self.kd else ""


def _build() -> tuple[Column, ...]:
    by_kd: dict[int, Column] = {}
    for f in STUDENT_FIELDS:
        if f.kd:
            by_kd[f.kd] = Column(f.headers[0], f.headers, f.kd, 0, f)
    by_kd[16] = Column("班号", ("班号",), 16, special=CLASS_CODE)
    by_kd[47] = Column("", (), 47, special="unused")
    for slot in MEMBER_SLOTS:
        for i, f in enumerate(MEMBER_FIELDS):
            kd = 48 + (slot - 1) * len(MEMBER_FIELDS) + i
            spellings = tuple(member_header(slot, f, n) for n in range(len(f.headers)))
            by_kd[kd] = Column(spellings[0], spellings, kd, slot, f)
    columns = [by_kd[kd] for kd in sorted(by_kd)]
    columns.append(Column("年级", ("年级",), special=GRADE))
    columns.append(Column("班级", ("班级", "班级名称"), special=CLASS_NAME))
    # 姓名拼音 is on the paper form but not a template column; accepted on import when present.
    for f in STUDENT_FIELDS:
        if not f.kd:
            columns.append(Column(f.headers[0], f.headers, None, 0, f))
    return tuple(columns)


COLUMNS: tuple[Column, ...] = _build()
EXPORT_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.special != "unused" and (c.kd or c.special))

_BY_SPELLING: dict[str, Column] = {}
for _column in COLUMNS:
    for _spelling in _column.spellings:
        _BY_SPELLING[_spelling] = _column
    if _column.kd:
        _BY_SPELLING[_column.code] = _column


def normalize_header(text: object) -> str:
    """A header cell as compared: no spaces, no ★ marks, full-width brackets made ASCII."""
    if text is None:
        return ""
    cleaned = "".join(str(text).split()).replace("★", "").replace("*", "")
    return cleaned.replace("（", "(").replace("）", ")")


def column_for_header(text: object) -> Column | None:
    """The template column a header cell names (by Chinese header or KD code), if any."""
    key = normalize_header(text)
    return _BY_SPELLING.get(key) or _BY_SPELLING.get(key.upper())
