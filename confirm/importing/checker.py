"""The template check: every cell cleaned with its field's rules, every record validated, duplicates found.

Pure: works on a Table from the reader and a snapshot of the school's existing students; writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from confirm.clock import local_today
from confirm.errors import DomainError
from confirm.fields import MEMBER_FIELDS, MEMBER_SLOTS, STUDENT_FIELDS, Field, Requirement
from confirm.folding import fold_code
from confirm.i18n import N_, Message
from confirm.importing.reader import Table
from confirm.template import CLASS_CODE, CLASS_NAME, GRADE, Column
from confirm.validation import UNKNOWN_COUNTY, clean_value, normalize_text, validate_record

SHOWN_VALUE_LIMIT = 50
CLASS_LIMITS = {GRADE: 20, CLASS_NAME: 40, CLASS_CODE: 20}  # the sizes of classes.grade / name / class_code


class OtherSchoolFile(DomainError):
    """The file is another school's student list: refused as a whole, before anything is written."""


@dataclass(frozen=True)
class ImportProblem:
    """One problem: the row as Excel shows it, the column header, the value and what is wrong."""

    row: int
    column: str
    value: str
    message: Message
    is_warning: bool = False
    is_keepable: bool = False  # an error the admin may accept for its row by ticking 保留原值 in the report


@dataclass
class ParsedRow:
    """One clean data row, ready to be written."""

    row: int
    values: dict[str, str]
    members: dict[int, dict[str, str]]
    grade: str
    class_name: str
    class_code: str
    match_id: int | None = None  # the existing student this row updates


@dataclass
class ExistingStudents:
    """What the check needs to know about the school's students already stored."""

    by_id_number: dict[str, int] = field(default_factory=dict)
    by_person_without_id: dict[tuple[str, str, str], int] = field(default_factory=dict)
    by_person_with_id: dict[tuple[str, str, str], int] = field(default_factory=dict)


@dataclass
class CheckResult:
    """Every problem found, and the clean rows (only meaningful when there are no errors)."""

    problems: list[ImportProblem]
    rows: list[ParsedRow]
    total_rows: int
    ignored_headers: list[str]
    present: frozenset[tuple[int, str]] = frozenset()  # (slot, field key) of the columns the file has
    other_schools: tuple[str, ...] = ()  # the school codes of a file none of whose rows names the target school
    kept_rows: frozenset[int] = frozenset()  # rows whose unlisted division codes the admin chose to keep (保留原值)

    @property
    def errors(self) -> list[ImportProblem]:
        return [p for p in self.problems if not p.is_warning]

    @property
    def warnings(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.is_warning]

    @property
    def is_clean(self) -> bool:
        """True when nothing blocks the import (warnings do not)."""
        return not any(not p.is_warning for p in self.problems)


def shown(value: object) -> str:
    """A cell value as printed in a problem line: text, cut to a readable length."""
    text = normalize_text(value) if not isinstance(value, str) else " ".join(value.split())
    return text if len(text) <= SHOWN_VALUE_LIMIT else text[:SHOWN_VALUE_LIMIT] + "…"


def _header_of(columns: Mapping[tuple[int, str], Column], slot: int, key: str) -> str:
    column = columns.get((slot, key))
    if column is not None:
        return column.header
    f = next(x for x in (STUDENT_FIELDS if slot == 0 else MEMBER_FIELDS) if x.key == key)
    return f.headers[0] if slot == 0 else f"成员{slot}{f.headers[0]}"


def _required_columns() -> list[tuple[int, Field]]:
    out = [(0, f) for f in STUDENT_FIELDS if f.requirement is Requirement.REQUIRED and f.key != "school_code"]
    out += [(1, f) for f in MEMBER_FIELDS if f.requirement is Requirement.REQUIRED]
    return out


UNLISTED_DIVISION = N_("行政区划代码前6位（%(county)s）不在现行的区划代码表中。请改为正确的代码；确实要保留原值"
                       "（例如已撤销的旧代码）的，请在导入报告中勾选这一行的“保留原值”")
KEPT_DIVISION = N_("行政区划代码前6位（%(county)s）不在现行的区划代码表中，已按您的选择保留原值")


def _division_problem(row_no: int, column: Column, raw: object, warning: Message, kept: bool) -> ImportProblem:
    """A division code outside the list, in an import: an error the admin may keep for its row, or kept."""
    if kept:
        return ImportProblem(row_no, column.header, shown(raw), Message(KEPT_DIVISION, warning.params), is_warning=True)
    return ImportProblem(row_no, column.header, shown(raw), Message(UNLISTED_DIVISION, warning.params),
                         is_keepable=True)


def check_table(
    table: Table, *, school_code: str, existing: ExistingStudents | None = None, today: date | None = None,
    kept_rows: frozenset[int] = frozenset(),
) -> CheckResult:
    """Check the whole table; returns every problem and the parsed rows. A division code outside the list is an
    error, except in ``kept_rows`` (the admin ticked 保留原值 for them), where it is a warning."""
    existing = existing or ExistingStudents()
    today = today or local_today()
    problems: list[ImportProblem] = []
    by_field: dict[tuple[int, str], Column] = {}
    known: list[tuple[int, Column]] = []
    for index, column in enumerate(table.columns):
        if column is None:
            continue
        known.append((index, column))
        if column.field is not None:
            by_field[(column.slot, column.field.key)] = column
    specials = {c.special for _, c in known if c.special}
    formulas = table.formulas

    missing: set[tuple[int, str]] = set()
    for slot, f in _required_columns():
        if (slot, f.key) not in by_field:
            missing.add((slot, f.key))
            header = f.headers[0] if slot == 0 else f"成员1{f.headers[0]}"
            problems.append(ImportProblem(table.header_row, header, "",
                                          Message(N_("缺少必填列“%(col)s”"), {"col": header})))
    if CLASS_CODE not in specials and not {GRADE, CLASS_NAME} <= specials:
        problems.append(ImportProblem(table.header_row, "班号", "",
                                      Message(N_("缺少“班号”列（或“年级”和“班级”两列），无法分班"))))
    for ref, first, _last in table.merged:
        problems.append(ImportProblem(first, ref, "", Message(N_("存在合并单元格（%(ref)s），请取消合并后再导入"),
                                                               {"ref": ref})))

    rows: list[ParsedRow] = []
    seen_ids: dict[str, int] = {}
    seen_people: dict[tuple[str, str, str], int] = {}
    matched: dict[int, int] = {}
    schools: Counter[str] = Counter()
    total = 0
    for row_no, cells in table.rows:
        total += 1
        values: dict[str, str] = {}
        members: dict[int, dict[str, str]] = {slot: {} for slot in MEMBER_SLOTS}
        klass = {GRADE: "", CLASS_NAME: "", CLASS_CODE: ""}
        bad: set[tuple[int, str]] = set()
        for index, column in known:
            raw = cells[index] if index < len(cells) else None
            if formulas and (row_no, index) in formulas:
                problems.append(ImportProblem(row_no, column.header, shown(raw), Message(
                    N_("单元格是公式，请复制后“选择性粘贴为数值”再导入"))))
                if column.field is not None:
                    bad.add((column.slot, column.field.key))
                continue
            if raw is None or raw == "":
                continue
            if column.field is None:
                if column.special in klass:
                    text, limit = normalize_text(raw), CLASS_LIMITS[column.special]
                    if column.special == CLASS_CODE:  # 班号 typed with a Chinese input method: ３０１, 3－01
                        text = fold_code(text)
                    if len(text) > limit:
                        problems.append(ImportProblem(row_no, column.header, shown(raw), Message(
                            N_("内容过长：最多%(max)d个字，现在是%(length)d个字"),
                            {"max": limit, "length": len(text)})))
                    klass[column.special] = text[:limit]
                continue
            value, errors, warnings = clean_value(column.field, raw, today=today)
            for message in errors:
                problems.append(ImportProblem(row_no, column.header, shown(raw), message))
            unlisted = False
            for message in warnings:
                if message.text == UNKNOWN_COUNTY:
                    problems.append(_division_problem(row_no, column, raw, message, row_no in kept_rows))
                    unlisted = row_no not in kept_rows
                else:
                    problems.append(ImportProblem(row_no, column.header, shown(raw), message, is_warning=True))
            if errors or unlisted:
                bad.add((column.slot, column.field.key))
            elif value:
                (values if column.slot == 0 else members[column.slot])[column.field.key] = value

        file_school = values.get("school_code")
        if file_school:
            schools[file_school] += 1
        if file_school and file_school != school_code:
            problems.append(ImportProblem(row_no, "学校标识码", file_school, Message(
                N_("学校标识码与导入的学校（%(code)s）不一致"), {"code": school_code})))
        values["school_code"] = school_code
        if not klass[CLASS_CODE] and not (klass[GRADE] and klass[CLASS_NAME]) and (
            CLASS_CODE in specials or {GRADE, CLASS_NAME} <= specials
        ):
            header = "班号" if CLASS_CODE in specials else "班级"
            problems.append(ImportProblem(row_no, header, "", Message(N_("请填写班号（或年级和班级）"))))

        for problem in validate_record(values, members, today=today):
            where = (problem.slot, problem.key)
            if where in bad or where in missing:
                continue
            source = values.get(problem.key, "") if problem.slot == 0 else members[problem.slot].get(problem.key, "")
            problems.append(ImportProblem(row_no, _header_of(by_field, *where), shown(source), problem.message,
                                          problem.is_warning))

        parsed = ParsedRow(row_no, values, members, klass[GRADE], klass[CLASS_NAME], klass[CLASS_CODE])
        _match_and_dedupe(parsed, existing, seen_ids, seen_people, matched, problems, by_field)
        rows.append(parsed)
    if total == 0:
        problems.append(ImportProblem(table.header_row, "", "", Message(N_("表头下面没有学生数据"))))
    others = tuple(code for code, _n in schools.most_common()) if schools and school_code not in schools else ()
    return CheckResult(problems, rows, total, table.ignored_headers, frozenset(by_field) | {(0, "school_code")},
                       others, frozenset(kept_rows))


def refuse_other_school(result: CheckResult, school_code: str) -> None:
    """Raise OtherSchoolFile when no row of the file is the target school's and some name another school."""
    if result.other_schools:
        raise OtherSchoolFile(Message(
            N_("这是另一所学校的学生名单（文件中的学校标识码为 %(found)s），不是本校（%(code)s）的；没有导入任何数据，"
               "请选择本校的文件"), {"found": "、".join(result.other_schools[:3]), "code": school_code}))


def _match_and_dedupe(
    row: ParsedRow,
    existing: ExistingStudents,
    seen_ids: dict[str, int],
    seen_people: dict[tuple[str, str, str], int],
    matched: dict[int, int],
    problems: list[ImportProblem],
    by_field: Mapping[tuple[int, str], Column],
) -> None:
    """查重: duplicates inside the file, and which stored student each row updates."""
    id_number = row.values.get("id_number", "")
    person = (row.values.get("name", ""), row.values.get("gender", ""), row.values.get("birth_date", ""))
    if id_number:
        first = seen_ids.setdefault(id_number, row.row)
        if first != row.row:
            problems.append(ImportProblem(row.row, _header_of(by_field, 0, "id_number"), shown(id_number[:6] + "…"),
                                          Message(N_("身份证件号与第 %(row)s 行重复"), {"row": first})))
            return
        row.match_id = existing.by_id_number.get(id_number)
        if row.match_id is None and all(person) and person in existing.by_person_without_id:
            # The same child, who now has an ID number: update the stored record instead of adding a second one.
            row.match_id = existing.by_person_without_id[person]
            problems.append(ImportProblem(row.row, _header_of(by_field, 0, "id_number"), shown(id_number[:6] + "…"),
                                          Message(N_("将为系统中没有身份证件号的同名同生日学生补充身份证件号")),
                                          is_warning=True))
    elif all(person):
        first = seen_people.setdefault(person, row.row)
        if first != row.row:
            problems.append(ImportProblem(row.row, _header_of(by_field, 0, "name"), person[0], Message(
                N_("姓名、性别、出生日期与第 %(row)s 行相同（都没有身份证件号），可能是同一名学生"), {"row": first})))
            return
        row.match_id = existing.by_person_without_id.get(person)
        if row.match_id is None and person in existing.by_person_with_id:
            problems.append(ImportProblem(row.row, _header_of(by_field, 0, "name"), person[0], Message(
                N_("学校已有一名姓名、性别、出生日期相同且有身份证件号的学生，请确认不是重复录入")), is_warning=True))
    if row.match_id is not None:
        first = matched.setdefault(row.match_id, row.row)
        if first != row.row:
            problems.append(ImportProblem(row.row, _header_of(by_field, 0, "name"), person[0], Message(
                N_("与第 %(row)s 行是系统中的同一名学生"), {"row": first})))
