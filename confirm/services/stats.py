"""Campaign progress by stage (one grouped query however many students), deadlines, who is behind, Excel."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property

from openpyxl import Workbook
from sqlalchemy import and_, bindparam, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from confirm.clock import local_today
from confirm.exporting import _as_text, _header_cells, _save, student_identifier
from confirm.i18n import N_
from confirm.models import (
    Campaign,
    Confirmation,
    FieldCorrection,
    Guardianship,
    ParentAccount,
    School,
    SchoolClass,
    StaffUser,
    Student,
)
from confirm.services.namesakes import StudentLabels
from confirm.states import STAGE_LABELS, CorrectionStatus, Stage, State


def stage_expression(campaign_id: int | None):
    """A SQL expression giving each student's Stage, for a query joined as in ``_join_confirmation`` (the campaign
    is chosen by that join, so the expression is the same for every campaign: built once, see _stage_case)."""
    return _stage_case()


@cache
def _stage_case():
    has_parent = exists().where(Guardianship.student_id == Student.id)
    key_returned = exists().where(FieldCorrection.confirmation_id == Confirmation.id,
                                  FieldCorrection.status == CorrectionStatus.REJECTED.value)
    return case(
        (and_(Confirmation.state == State.APPROVED.value, key_returned), literal(Stage.KEY_RETURNED.value)),
        (and_(Confirmation.state.is_not(None), Confirmation.state != State.OPEN.value), Confirmation.state),
        (has_parent, literal(Stage.REGISTERED.value)),
        else_=literal(Stage.UNREGISTERED.value),
    )


def _join_confirmation(query, campaign_id: int | BindParameter | None):
    """``query`` joined to each student's confirmation in the campaign (a bound parameter in a statement built once)."""
    campaign = campaign_id if isinstance(campaign_id, BindParameter) else (campaign_id or -1)
    return query.outerjoin(Confirmation,
                           and_(Confirmation.student_id == Student.id, Confirmation.campaign_id == campaign))


def _counts_by_class(session: Session, where, campaign_id: int | None) -> dict[int, Counter]:
    """A Counter of students per Stage for each class with students matching ``where``: one grouped statement."""
    return _counted(session.execute(_grouped_counts(where, campaign_id)))


def _grouped_counts(where, campaign_id):
    stage = stage_expression(campaign_id).label("stage")
    query = _join_confirmation(select(Student.class_id, stage, func.count()), campaign_id)
    return query.where(where).group_by(Student.class_id, stage)


def _counted(rows) -> dict[int, Counter]:
    result: dict[int, Counter] = defaultdict(Counter)
    for class_id, stage_value, n in rows:
        result[class_id][Stage(stage_value)] = n
    return dict(result)


@cache
def _school_counts_statement():
    """The school page's grouped counts, built once: school and campaign are bound when it runs (building and keying
    the statement took longer than running it)."""
    return _grouped_counts(Student.school_id == bindparam("school_id"), bindparam("campaign_id"))


def stage_query(campaign_id: int | None, *columns):
    """``select(*columns)`` from the students joined with their confirmation in ``campaign_id``: a query that may
    select or filter on ``stage_expression(campaign_id)``."""
    return _join_confirmation(select(*columns), campaign_id)


def stage_counts(session: Session, class_ids: Iterable[int], campaign_id: int | None) -> dict[int, Counter]:
    """For each class id, a Counter of students per Stage."""
    class_ids = list(class_ids)
    if not class_ids:
        return {}
    counts = _counts_by_class(session, Student.class_id.in_(class_ids), campaign_id)
    return {cid: counts.get(cid, Counter()) for cid in class_ids}


def school_stage_counts(session: Session, school_id: int, campaign_id: int | None) -> dict[int, Counter]:
    """For each class of the school that has students, a Counter of its students per Stage (one statement on the
    school's students, not a list of its class ids)."""
    return _counted(session.execute(_school_counts_statement(),
                                    {"school_id": school_id, "campaign_id": campaign_id or -1}))


def students_with_stage(
    session: Session, class_id: int, campaign_id: int | None, stage: Stage | None = None, search: str = ""
) -> list[tuple[Student, Stage]]:
    """The class's students with their stage, by name; optionally only those in ``stage`` and those whose name
    contains ``search`` or a linked parent's platform number starts with it. One query."""
    expr = stage_expression(campaign_id)
    query = _join_confirmation(select(Student, expr), campaign_id).where(Student.class_id == class_id)
    if stage is not None:
        query = query.where(expr == stage.value)
    search = search.strip()
    if search:
        query = query.where(_matching(search))
    rows = session.execute(query.order_by(Student.name, Student.id)).all()
    return [(student, Stage(value)) for student, value in rows]


def _matching(search: str):
    """A SQL condition: the student's name contains ``search`` or a linked parent's platform number starts with it."""
    by_platform_no = exists().where(
        Guardianship.student_id == Student.id, Guardianship.parent_id == ParentAccount.id,
        ParentAccount.platform_no.startswith(search, autoescape=True))
    return or_(Student.name.contains(search, autoescape=True), by_platform_no)


@dataclass(frozen=True)
class RosterLine:
    """One student on the class page: a name and a stage are all it shows (the record is not loaded)."""

    id: int
    name: str
    stage: Stage
    matches: bool = True  # found by the page's search (always, without one)


def class_roster(session: Session, class_id: int, campaign_id: int | None, search: str = "") -> list[RosterLine]:
    """Every student of the class with their stage, by name, and whether each matches ``search`` (as in
    ``students_with_stage``). One statement however many students."""
    search = search.strip()
    matches = _matching(search) if search else literal(True)
    query = _join_confirmation(select(Student.id, Student.name, stage_expression(campaign_id), matches),
                               campaign_id).where(Student.class_id == class_id)
    rows = session.execute(query.order_by(Student.name, Student.id)).all()
    return [RosterLine(sid, name, Stage(value), bool(found)) for sid, name, value, found in rows]


@dataclass(frozen=True)
class StudentLine:
    """One student in the school's list of students: who, in which class, at which stage."""

    id: int
    name: str
    class_title: str
    stage: Stage


@dataclass(frozen=True)
class StudentPage:
    """One page of the school's students matching a search, and how many match in all."""

    lines: list[StudentLine]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the matching students fill (at least one)."""
        return max(1, -(-self.total // self.per_page))


def school_students(session: Session, school_id: int, campaign_id: int | None, *, name: str = "",
                    stage: Stage | None = None, page: int = 1, per_page: int = 50) -> StudentPage:
    """The school's students by name, ``per_page`` at a time: those whose name contains ``name`` and, with
    ``stage``, only those at that stage. Two statements (the page, the count) however large the school."""
    expr = stage_expression(campaign_id)
    matching = _join_confirmation(select(Student.id), campaign_id).where(Student.school_id == school_id)
    if name.strip():
        matching = matching.where(Student.name.contains(name.strip(), autoescape=True))
    if stage is not None:
        matching = matching.where(expr == stage.value)
    total = session.scalar(select(func.count()).select_from(matching.subquery()))
    page = max(1, min(page, max(1, -(-total // per_page))))
    # The page's ids first (walking the name index), then the columns of just those: the stage, with its
    # subqueries, is not worked out for every student skipped before a later page.
    ids = matching.order_by(Student.name, Student.id).limit(per_page).offset((page - 1) * per_page).subquery()
    rows = session.execute(
        _join_confirmation(select(Student.id, Student.name, SchoolClass.grade, SchoolClass.name.label("class_name"),
                                  expr), campaign_id)
        .join(ids, ids.c.id == Student.id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .order_by(Student.name, Student.id)
    ).all()
    lines = [StudentLine(sid, student_name, f"{grade} {class_name}", Stage(value))
             for sid, student_name, grade, class_name, value in rows]
    return StudentPage(lines, total, page, per_page)


# --- the campaign's figures: funnel, deadline, who is behind --------------------------------------------------

AT_RISK_DAYS = 3
STAGES: tuple[Stage, ...] = tuple(Stage)  # campaign order
# Stages in which the family still has to act (register, submit, or submit again after a return). A student in
# one of these after the deadline is overdue; within AT_RISK_DAYS of it, at risk. 待审核 and 已通过 are never late:
# the parent has done their part and the rest is the school's.
BEHIND_STAGES: tuple[Stage, ...] = (Stage.UNREGISTERED, Stage.REGISTERED, Stage.RETURNED, Stage.KEY_RETURNED)


@dataclass(frozen=True)
class Deadline:
    """Where today stands against the campaign deadline (the last day parents may submit)."""

    deadline: date | None
    today: date

    @property
    def days_left(self) -> int | None:
        """Days until the deadline: 0 on the day itself, negative once it has passed, None without a campaign."""
        return None if self.deadline is None else (self.deadline - self.today).days

    @property
    def is_past(self) -> bool:
        """True once the deadline day is over."""
        return self.days_left is not None and self.days_left < 0

    @property
    def is_near(self) -> bool:
        """True from AT_RISK_DAYS before the deadline to the deadline day itself."""
        return self.days_left is not None and 0 <= self.days_left <= AT_RISK_DAYS

    @property
    def risk_days(self) -> int:
        """How many days before the deadline students still behind are marked at risk."""
        return AT_RISK_DAYS

    @property
    def lateness(self) -> str | None:
        """"overdue", "at_risk" or None: how the students still in BEHIND_STAGES are to be marked."""
        return "overdue" if self.is_past else "at_risk" if self.is_near else None


def percent(n: int, total: int) -> int:
    """``n`` as a whole percentage of ``total`` (0 when there is nobody)."""
    return round(100 * n / total) if total else 0


@dataclass(frozen=True)
class Figures:
    """A class's (or the school's) counts per stage with the derived percentages and the number behind."""

    counts: Counter
    deadline: Deadline

    # Each figure is worked out once (counts never change after creation): a school page asks for them on 100
    # classes, a district page sorts 500 schools by them. Counter.get and a tuple of the stages, not the Enum's
    # iterator and Counter.__missing__, keep that well under a millisecond per page.

    @cached_property
    def total(self) -> int:
        get = self.counts.get
        return sum([get(stage, 0) for stage in STAGES])

    def share(self, stage: Stage) -> int:
        """Percentage of the students in ``stage``."""
        return percent(self.counts.get(stage, 0), self.total)

    @cached_property
    def done_percent(self) -> int:
        """Percentage of the students whose record is approved (已通过)."""
        return self.share(Stage.APPROVED)

    @cached_property
    def behind(self) -> int:
        """Students in BEHIND_STAGES (whatever the date)."""
        get = self.counts.get
        return sum([get(stage, 0) for stage in BEHIND_STAGES])

    @property
    def late(self) -> int:
        """Students overdue or at risk, by the deadline's lateness; 0 while the deadline is far."""
        return self.behind if self.deadline.lateness else 0

    @cached_property
    def steps(self) -> list[tuple[Stage, int, int]]:
        """The funnel as (stage, count, percentage) in campaign order."""
        total, get = self.total, self.counts.get
        return [(stage, n, percent(n, total)) for stage, n in [(stage, get(stage, 0)) for stage in STAGES]]


def deadline_of(campaign: Campaign | None, today: date | None = None) -> Deadline:
    """The campaign's Deadline as of ``today`` (default: the server's date)."""
    return Deadline(campaign.deadline if campaign else None, today or local_today())


@dataclass(frozen=True)
class ClassOverview:
    """What the class page shows: the figures of the whole class, who is behind (once the deadline is near), and
    the students the page lists (those at ``selected``, if given, found by the search)."""

    roster: list[RosterLine]  # the whole class
    figures: Figures
    behind: list[RosterLine]
    listed: list[RosterLine]

    @property
    def counts(self) -> Counter:
        return self.figures.counts


def class_overview(session: Session, class_id: int, campaign: Campaign | None, selected: Stage | None = None,
                   search: str = "", today: date | None = None) -> ClassOverview:
    """The class page's figures and lists from one statement (``class_roster``): counts, the students behind and
    the listed students are all read from the same rows."""
    roster = class_roster(session, class_id, campaign.id if campaign else None, search)
    figures = Figures(Counter(line.stage for line in roster), deadline_of(campaign, today))
    behind = [line for line in roster if line.stage in BEHIND_STAGES] if figures.deadline.lateness else []
    listed = [line for line in roster if line.matches and (selected is None or line.stage == selected)]
    return ClassOverview(roster, figures, behind, listed)


@dataclass(frozen=True)
class ClassRef:
    """A class as the school table shows it (its id, grade and name), read as plain columns, not a SchoolClass."""

    id: int
    grade: str
    name: str

    @property
    def title(self) -> str:
        """e.g. 三年级 2班 (as SchoolClass.title)."""
        return f"{self.grade} {self.name}"


@dataclass(frozen=True)
class ClassRow:
    """One line of the school table."""

    school_class: ClassRef
    teacher_name: str
    figures: Figures


SORT_KEYS: dict[str, object] = {
    "class": lambda r: (r.school_class.grade, r.school_class.name),
    "teacher": lambda r: (r.teacher_name == "", r.teacher_name),
    **{stage.value: (lambda r, stage=stage: r.figures.counts[stage]) for stage in Stage},
    "total": lambda r: r.figures.total,
    "done": lambda r: r.figures.done_percent,
    "behind": lambda r: r.figures.behind,
}


def parse_sort(raw: str | None) -> tuple[str, bool]:
    """``?sort=`` as (key, descending): "done" or "-done"; unknown keys sort by class."""
    raw = raw or ""
    descending = raw.startswith("-")
    key = raw.lstrip("-")
    return (key, descending) if key in SORT_KEYS else ("class", False)


def school_table(
    session: Session, school_id: int, campaign: Campaign | None, today: date | None = None, sort: str | None = None
) -> tuple[list[ClassRow], Figures]:
    """Every class of the school with its figures, sorted by ``sort`` (see parse_sort), and the school's totals.

    Two statements however many classes and students: the classes with their head teachers' names (columns, not
    ORM objects), then the school's grouped counts.
    """
    deadline = deadline_of(campaign, today)
    classes = session.execute(
        select(SchoolClass.id, SchoolClass.grade, SchoolClass.name, StaffUser.display_name)
        .outerjoin(StaffUser, StaffUser.id == SchoolClass.head_teacher_id)
        .where(SchoolClass.school_id == school_id)
        .order_by(SchoolClass.grade, SchoolClass.name)
    ).all()
    counts = school_stage_counts(session, school_id, campaign.id if campaign else None)
    rows = [ClassRow(ClassRef(class_id, grade, name), teacher or "", Figures(counts.get(class_id, Counter()), deadline))
            for class_id, grade, name, teacher in classes]
    key, descending = parse_sort(sort)
    rows.sort(key=SORT_KEYS[key], reverse=descending)  # stable: ties keep class order
    return rows, Figures(sum(counts.values(), start=Counter()), deadline)


# --- Excel ----------------------------------------------------------------------------------------------------

LATENESS_LABELS = {"overdue": N_("已逾期"), "at_risk": N_("有风险")}


def class_workbook(
    school_class: SchoolClass, campaign: Campaign | None, figures: Figures, students: list[tuple[Student, Stage]],
    labels: StudentLabels | None = None,
) -> bytes:
    """The class's funnel and its students with their stages (namesakes told apart by ``labels``, each with
    its stable identifier), as a workbook of two sheets."""
    labels = labels or StudentLabels()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("统计")
    sheet.append(_as_text(sheet, [school_class.title, campaign.name if campaign else ""]))
    sheet.append(["截止日期", figures.deadline.deadline.isoformat() if figures.deadline.deadline else ""])
    sheet.append(["距截止天数", figures.deadline.days_left])
    sheet.append([])
    sheet.append(_header_cells(sheet, ["状态", "人数", "百分比%"]))
    for stage, n, pct in figures.steps:
        sheet.append([STAGE_LABELS[stage], n, pct])
    sheet.append(["合计", figures.total, 100 if figures.total else 0])
    lateness = figures.deadline.lateness
    listing = workbook.create_sheet("学生")
    listing.append(_header_cells(listing, ["姓名", "状态", "提醒", "学生标识"]))
    for student, stage in students:
        flag = LATENESS_LABELS[lateness] if lateness and stage in BEHIND_STAGES else ""
        listing.append(_as_text(listing, [str(labels(student)), STAGE_LABELS[stage], flag,
                                          student_identifier(student, school_class)]))
    return _save(workbook)


def school_workbook(school: School, campaign: Campaign | None, rows: list[ClassRow], totals: Figures) -> bytes:
    """The school table: per class its head teacher, counts and percentages per stage, completion and behind."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("各班进度")
    sheet.append(_as_text(sheet, [school.name, campaign.name if campaign else ""]))
    sheet.append(["截止日期", totals.deadline.deadline.isoformat() if totals.deadline.deadline else "",
                  "距截止天数", totals.deadline.days_left])
    headers = ["班级", "班主任"]
    for stage in Stage:
        headers += [STAGE_LABELS[stage], f"{STAGE_LABELS[stage]}%"]
    sheet.append(_header_cells(sheet, [*headers, "合计", "完成率%", "未完成", "逾期或有风险"]))

    def line(title: str, teacher: str, f: Figures) -> list:
        values: list = [title, teacher]
        for _stage, n, pct in f.steps:
            values += [n, pct]
        return _as_text(sheet, [*values, f.total, f.done_percent, f.behind, f.late])

    for row in rows:
        sheet.append(line(row.school_class.title, row.teacher_name, row.figures))
    sheet.append(line("全校", "", totals))
    return _save(workbook)
