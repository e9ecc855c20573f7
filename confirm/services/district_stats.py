"""The supervisor's figures: every school of a district (and of the districts below it) with its funnel.

A fixed number of queries however many schools and students: the schools with their running campaigns, the
grouped counts per school and stage, the key-data changes waiting for the district per school. Counts only — no
student's name or record is read here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from openpyxl import Workbook
from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from confirm.exporting import _as_text, _header_cells, _save
from confirm.models import Campaign, Confirmation, District, FieldCorrection, Guardianship, School, Student
from confirm.services.districts import subtree_select
from confirm.services.stats import Deadline, Figures
from confirm.states import STAGE_LABELS, CorrectionStatus, Stage, State


def _stage_by_semi_join():
    """Each student's Stage, as ``stats.stage_expression`` gives it, written with uncorrelated IN lists: over a
    whole district PostgreSQL hashes the lists once instead of probing an index for every student."""
    has_parent = Student.id.in_(select(Guardianship.student_id))
    key_returned = Confirmation.id.in_(select(FieldCorrection.confirmation_id).where(
        FieldCorrection.status == CorrectionStatus.REJECTED.value))
    return case(
        (and_(Confirmation.state == State.APPROVED.value, key_returned), literal(Stage.KEY_RETURNED.value)),
        (and_(Confirmation.state.is_not(None), Confirmation.state != State.OPEN.value), Confirmation.state),
        (has_parent, literal(Stage.REGISTERED.value)),
        else_=literal(Stage.UNREGISTERED.value),
    )


@dataclass(frozen=True)
class SchoolRow:
    """One line of the district table."""

    school: School
    campaign: Campaign | None
    figures: Figures
    key_data_waiting: int  # key-data changes waiting for the district

    @property
    def urgency(self) -> int:
        """0 overdue with students behind, 1 at risk, 2 the rest: the order the table starts in."""
        lateness = self.figures.deadline.lateness if self.figures.behind else None
        return {"overdue": 0, "at_risk": 1}.get(lateness, 2)


def _days(row: SchoolRow) -> int:
    days = row.figures.deadline.days_left
    return days if days is not None else 10**6


SORT_KEYS: dict[str, object] = {
    "urgency": lambda r: (r.urgency, _days(r), r.figures.done_percent, r.school.name),
    "school": lambda r: r.school.name,
    "days": lambda r: (_days(r), r.school.name),
    **{stage.value: (lambda r, stage=stage: r.figures.counts[stage]) for stage in Stage},
    "total": lambda r: r.figures.total,
    "done": lambda r: r.figures.done_percent,
    "behind": lambda r: r.figures.behind,
    "keydata": lambda r: r.key_data_waiting,
}


def parse_sort(raw: str | None) -> tuple[str, bool]:
    """``?sort=`` as (key, descending): "done" or "-done"; unknown keys: overdue schools first."""
    raw = raw or ""
    descending = raw.startswith("-")
    key = raw.lstrip("-")
    return (key, descending) if key in SORT_KEYS else ("urgency", False)


def district_table(session: Session, district: District, today: date | None = None,
                   sort: str | None = None) -> tuple[list[SchoolRow], Counter]:
    """Every school now in ``district`` or below it with its figures, sorted (see parse_sort), and the totals.

    Three queries, whatever the number of schools and students.
    """
    today = today or date.today()
    in_tree = School.district_id.in_(subtree_select(district.id))
    pairs = session.execute(
        select(School, Campaign)
        .outerjoin(Campaign, and_(Campaign.school_id == School.id, Campaign.is_active))
        .where(in_tree)
        .order_by(School.name, School.id, Campaign.created_at.desc(), Campaign.id.desc())
    ).all()
    campaigns: dict[int, Campaign | None] = {}
    schools: list[School] = []
    for school, campaign in pairs:
        if school.id not in campaigns:  # the newest active campaign, as records.active_campaign chooses
            schools.append(school)
            campaigns[school.id] = campaign
    counts: dict[int, Counter] = {school.id: Counter() for school in schools}
    waiting: Counter = Counter()
    if schools:
        running = [c.id for c in campaigns.values() if c is not None]
        stage = _stage_by_semi_join().label("stage")
        rows = session.execute(
            select(Student.school_id, stage, func.count())
            .outerjoin(Confirmation, and_(Confirmation.student_id == Student.id,
                                          Confirmation.campaign_id.in_(running or [-1])))
            .where(Student.school_id.in_(list(counts)))
            .group_by(Student.school_id, stage)
        ).all()
        for school_id, stage_value, n in rows:
            counts[school_id][Stage(stage_value)] = n
        waiting.update(dict(session.execute(
            select(Student.school_id, func.count())
            .select_from(FieldCorrection)
            .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
            .join(Student, Student.id == Confirmation.student_id)
            .where(FieldCorrection.status == CorrectionStatus.PENDING_DISTRICT.value,
                   Student.school_id.in_(list(counts)))
            .group_by(Student.school_id)
        ).all()))
    table = [SchoolRow(s, campaigns[s.id], Figures(counts[s.id], Deadline(
        campaigns[s.id].deadline if campaigns[s.id] else None, today)), waiting[s.id]) for s in schools]
    key, descending = parse_sort(sort)
    table.sort(key=SORT_KEYS[key], reverse=descending)
    return table, sum(counts.values(), start=Counter())


def district_workbook(district: District, rows: list[SchoolRow], totals: Counter, today: date) -> bytes:
    """The district table as a workbook: per school its deadline, counts and percentages per stage."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("各校进度")
    sheet.append(_as_text(sheet, [district.name, today.isoformat()]))
    headers = ["学校标识码", "学校", "截止日期", "距截止天数"]
    for stage in Stage:
        headers += [STAGE_LABELS[stage], f"{STAGE_LABELS[stage]}%"]
    sheet.append(_header_cells(sheet, [*headers, "合计", "完成率%", "未完成", "待核办关键信息"]))
    for row in rows:
        f = row.figures
        values: list = [row.school.code, row.school.name,
                        f.deadline.deadline.isoformat() if f.deadline.deadline else "", f.deadline.days_left]
        for _stage, n, pct in f.steps:
            values += [n, pct]
        sheet.append(_as_text(sheet, [*values, f.total, f.done_percent, f.behind, row.key_data_waiting]))
    overall = Figures(totals, Deadline(None, today))
    values = ["", "合计", "", None]
    for _stage, n, pct in overall.steps:
        values += [n, pct]
    sheet.append(_as_text(sheet, [*values, overall.total, overall.done_percent, overall.behind,
                                  sum(r.key_data_waiting for r in rows)]))
    return _save(workbook)
