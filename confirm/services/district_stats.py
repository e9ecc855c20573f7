"""The supervisor's figures: every school of a district (and of the districts below it) with its funnel.

Counts only — no student's name or record is read here — and a fixed number of queries however many schools and
students. Counting costs about 15 ms per school of 1,000 students on this machine, so a province (500 schools,
500,000 students) cannot be counted on every view: a district of more than ``LIVE_SCHOOLS`` schools reads each
school's counts from its ``SchoolProgress`` row, counted at most ``PROGRESS_TTL`` ago by a background job
(``refresh_progress``, REFRESH_CHUNK schools per grouped query), asks for the missing and old rows to be counted
again, and says when its oldest figures were counted. A district of up to ``LIVE_SCHOOLS`` schools is counted live.
The page shows ``PAGE_SIZE`` schools at a time (``DistrictTable.page``): the district's rows (one narrow query)
are sorted and searched here, a few ms for 500, and only the page's rows are rendered; the totals and the export
cover every school.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from openpyxl import Workbook
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from confirm.clock import local_today
from confirm.exporting import _as_text, _header_cells, _save
from confirm.models import (
    Campaign,
    Confirmation,
    District,
    FieldCorrection,
    School,
    SchoolProgress,
    Student,
    utcnow,
)
from confirm.services.districts import subtree_select
from confirm.services.stats import Deadline, Figures, stage_expression
from confirm.states import STAGE_LABELS, CorrectionStatus, Stage

LIVE_SCHOOLS = 10  # a district of at most this many schools is counted in the request
PROGRESS_TTL = timedelta(minutes=10)  # a SchoolProgress row older than this is counted again
PAGE_SIZE = 50  # schools per page of the district table (a province has 500)
REFRESH_CHUNK = 10  # schools counted per grouped query (and per transaction) by refresh_progress: ~0.2 s


class SchoolRef(NamedTuple):
    """The school as the district table shows it."""

    id: int
    code: str
    name: str


class CampaignRef(NamedTuple):
    """The school's running campaign: what the district table needs of it."""

    id: int
    deadline: date


class ProgressRef(NamedTuple):
    """A school's SchoolProgress row."""

    campaign_id: int | None
    counts: dict
    key_data_waiting: int
    counted_at: datetime


@dataclass(frozen=True)
class SchoolRow:
    """One line of the district table."""

    school: SchoolRef
    campaign: CampaignRef | None
    figures: Figures
    key_data_waiting: int  # key-data changes waiting for the district
    counted_at: datetime | None = None  # None: counted in this request; else when its SchoolProgress was counted
    is_counted: bool = True  # False: not counted yet (the job is on it)

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


def count_schools(session: Session, campaigns: dict) -> tuple[dict[int, Counter], Counter]:
    """Two grouped queries for the schools ``campaigns`` names (school id → its running campaign): the students
    per school and stage, and the key-data changes waiting for the district per school."""
    counts: dict[int, Counter] = {school_id: Counter() for school_id in campaigns}
    waiting: Counter = Counter()
    if not counts:
        return counts, waiting
    running = [c.id for c in campaigns.values() if c is not None]
    stage = stage_expression(None).label("stage")  # per student: EXISTS probes by index, ~15 ms per school
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
    return counts, waiting


def _is_stale(progress, campaign, now: datetime) -> bool:
    return (progress is None or progress.counted_at < now - PROGRESS_TTL
            or progress.campaign_id != (campaign.id if campaign else None))


@dataclass(frozen=True)
class DistrictTable:
    """The district page's rows (sorted), the totals, and the schools whose counts should be counted again."""

    rows: list[SchoolRow]
    totals: Counter
    to_refresh: list[int]

    def page(self, number: int, search: str | None = None, size: int | None = None) -> DistrictPage:
        """The ``number``th ``size`` rows (from 1; clamped to the pages there are) of the rows whose school name
        or code holds ``search`` (ignoring case), in the table's order."""
        size = size or PAGE_SIZE
        needle = (search or "").strip().casefold()
        rows = [r for r in self.rows if needle in r.school.name.casefold() or needle in r.school.code.casefold()] \
            if needle else self.rows
        pages = max(1, -(-len(rows) // size))
        number = min(max(1, number), pages)
        return DistrictPage(rows[(number - 1) * size:number * size], number, pages, len(rows), needle != "")


def table_lines(rows: Iterable[SchoolRow]) -> list[tuple]:
    """The rows as plain tuples for the page (the template unpacks tuples instead of following attributes):
    (school id, name, code, lateness, days left, the stage cells, total, done %, behind, key-data waiting, is
    counted). The stage cells hold only integers, so they come as one string of ``<td>``s: escaping 12 numbers per
    school one by one is most of a row's time."""
    out = []
    for r in rows:
        f = r.figures
        lateness = f.deadline.lateness if f.behind else None
        cells = "".join(f'<td class="num">{int(n)}<small class="pct">{int(pct)}%</small></td>'
                        for _stage, n, pct in f.steps)
        out.append((r.school.id, r.school.name, r.school.code, lateness, f.deadline.days_left, cells, f.total,
                    f.done_percent, f.behind, r.key_data_waiting, r.is_counted))
    return out


@dataclass(frozen=True)
class DistrictPage:
    """One page of the district table: a province's 500 rows are too many to render on every view."""

    rows: list[SchoolRow]  # this page's rows
    number: int  # from 1
    pages: int  # at least 1
    found: int  # rows matching the search (every row without one)
    is_search: bool

    def lines(self) -> list[tuple]:
        """This page's rows as plain tuples (see ``table_lines``)."""
        return table_lines(self.rows)

    @property
    def oldest_count(self) -> datetime | None:
        """When the oldest figures on this page were counted (None: all counted just now)."""
        return min((r.counted_at for r in self.rows if r.counted_at is not None), default=None)


def district_table(session: Session, district: District, today: date | None = None, sort: str | None = None,
                   now: datetime | None = None) -> DistrictTable:
    """Every school now in ``district`` or below it with its figures, sorted (see parse_sort), and the totals.

    One query for the schools, their running campaigns and their SchoolProgress rows; two more for a district
    counted live (see the module's docstring).
    """
    today = today or local_today()
    now = now or utcnow()
    # plain columns, not ORM objects: a province's page has 500 schools
    found = session.execute(
        select(School.id, School.code, School.name, Campaign.id, Campaign.deadline, SchoolProgress.campaign_id,
               SchoolProgress.counts, SchoolProgress.key_data_waiting, SchoolProgress.counted_at)
        .outerjoin(Campaign, and_(Campaign.school_id == School.id, Campaign.is_active))
        .outerjoin(SchoolProgress, SchoolProgress.school_id == School.id)
        .where(School.district_id.in_(subtree_select(district.id)))
        .order_by(School.name, School.id, Campaign.created_at.desc(), Campaign.id.desc())
    ).all()
    campaigns: dict[int, CampaignRef | None] = {}
    progress: dict[int, ProgressRef | None] = {}
    schools: list[SchoolRef] = []
    for sid, code, name, cid, deadline, counted_cid, counts, waiting_n, counted_at in found:
        if sid not in campaigns:  # the newest active campaign, as records.active_campaign chooses
            schools.append(SchoolRef(sid, code, name))
            campaigns[sid] = CampaignRef(cid, deadline) if cid is not None else None
            progress[sid] = ProgressRef(counted_cid, counts, waiting_n, counted_at) if counted_at else None
    is_live = len(schools) <= LIVE_SCHOOLS
    live, waiting = count_schools(session, campaigns if is_live else {})
    stale = [] if is_live else [s.id for s in schools if _is_stale(progress[s.id], campaigns[s.id], now)]
    table = []
    for s in schools:
        deadline = Deadline(campaigns[s.id].deadline if campaigns[s.id] else None, today)
        if s.id in live:
            table.append(SchoolRow(s, campaigns[s.id], Figures(live[s.id], deadline), waiting[s.id]))
        elif progress[s.id] is not None:
            counted = progress[s.id]
            figures = Figures(Counter({Stage(k): v for k, v in (counted.counts or {}).items()}), deadline)
            table.append(SchoolRow(s, campaigns[s.id], figures, counted.key_data_waiting, counted.counted_at))
        else:
            table.append(SchoolRow(s, campaigns[s.id], Figures(Counter(), deadline), 0, is_counted=False))
    key, descending = parse_sort(sort)
    table.sort(key=SORT_KEYS[key], reverse=descending)
    totals: Counter = Counter()
    for r in table:  # in place: sum(…, start=Counter()) makes a new Counter per school
        totals.update(r.figures.counts)
    return DistrictTable(table, totals, stale)


def refresh_progress(session: Session, school_ids: Iterable[int], now: datetime | None = None,
                     only_stale: bool = True) -> int:
    """Count the schools again into their SchoolProgress rows (``only_stale``: those not counted within
    PROGRESS_TTL), REFRESH_CHUNK schools per grouped query, each chunk flushed; returns how many were counted.
    Repeat-safe: one INSERT … ON CONFLICT per chunk."""
    now = now or utcnow()
    ids = sorted(set(school_ids))
    done = 0
    for start in range(0, len(ids), REFRESH_CHUNK):
        chunk = ids[start:start + REFRESH_CHUNK]
        found = session.execute(
            select(School.id, Campaign, SchoolProgress)
            .outerjoin(Campaign, and_(Campaign.school_id == School.id, Campaign.is_active))
            .outerjoin(SchoolProgress, SchoolProgress.school_id == School.id)
            .where(School.id.in_(chunk))
            .order_by(School.id, Campaign.created_at.desc(), Campaign.id.desc())
        ).all()
        campaigns: dict[int, Campaign | None] = {}
        for school_id, campaign, counted in found:
            if school_id not in campaigns and (not only_stale or _is_stale(counted, campaign, now)):
                campaigns[school_id] = campaign
        if not campaigns:
            continue
        counts, waiting = count_schools(session, campaigns)
        values = [{"school_id": i, "campaign_id": c.id if c else None,
                   "counts": {stage.value: n for stage, n in counts[i].items()},
                   "key_data_waiting": waiting[i], "counted_at": now} for i, c in campaigns.items()]
        insert = _insert_for(session)
        statement = insert(SchoolProgress).values(values)
        session.execute(statement.on_conflict_do_update(
            index_elements=[SchoolProgress.school_id],
            set_={name: statement.excluded[name] for name in ("campaign_id", "counts", "key_data_waiting",
                                                              "counted_at")}))
        session.flush()
        done += len(campaigns)
    return done


def _insert_for(session: Session):
    """INSERT … ON CONFLICT of the session's database (PostgreSQL in production, SQLite in development)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def district_workbook(district: District, table: DistrictTable, today: date) -> bytes:
    """The district table as a workbook: per school its deadline, counts and percentages per stage."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("各校进度")
    sheet.append(_as_text(sheet, [district.name, today.isoformat()]))
    headers = ["学校标识码", "学校", "截止日期", "距截止天数"]
    for stage in Stage:
        headers += [STAGE_LABELS[stage], f"{STAGE_LABELS[stage]}%"]
    sheet.append(_header_cells(sheet, [*headers, "合计", "完成率%", "未完成", "待核办关键信息"]))
    rows, totals = table.rows, table.totals
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
