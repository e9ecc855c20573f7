"""A re-import merges, it never overwrites the campaign.

A field the running campaign changed — a correction applied, or one still to be decided (draft, submitted,
pending_admin) — where the file says something else than the platform is a *conflict*. The platform's value is kept
(the file is older than the data the parent confirmed) unless the admin chose the file's value, for that field or for
the whole file; a pending correction stays pending either way. Where the file agrees with the platform there is
nothing to choose.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from confirm.errors import DomainError
from confirm.fields import MEMBER_FIELDS, STUDENT_FIELDS, field_for, member_header
from confirm.i18n import N_, Message
from confirm.importing.checker import CheckResult
from confirm.models import (
    Confirmation,
    FamilyMember,
    FieldCorrection,
    ImportConflict,
    ImportRun,
    SchoolClass,
    Student,
    utcnow,
)
from confirm.services.common import Actor, audit
from confirm.services.records import active_campaign
from confirm.states import CAMPAIGN_CHANGES, ConflictChoice, CorrectionStatus, ImportStatus

PAGE_SIZE = 50  # students per page of the report
IDENTITY_KEYS = ("name", "gender", "birth_date", "id_number")  # what a stored student is matched by
_ORDER = {(0, f.key): i for i, f in enumerate(STUDENT_FIELDS)} | {
    (slot, f.key): 1000 * slot + i for slot in (1, 2) for i, f in enumerate(MEMBER_FIELDS)}


@dataclass(frozen=True)
class Conflict:
    """One field of one student: its value at the campaign's start, in the file and on the platform now."""

    row: int
    student_id: int
    slot: int
    key: str
    start: str  # the correction's old value
    file: str
    platform: str
    corrected: str  # the correction's new value: on the platform when applied, still waiting when pending
    status: str  # the correction's status
    correction_id: int

    @property
    def fingerprint(self) -> tuple[int, int, str, str, str]:
        """The conflict as the admin saw it: a choice made for it holds only while these values stay the same."""
        return (self.student_id, self.slot, self.key, self.file, self.platform)

    @property
    def header(self) -> str:
        """The template column of the field (e.g. 现住址, 成员1联系电话)."""
        f = field_for(self.slot, self.key)
        return f.headers[0] if self.slot == 0 else member_header(self.slot, f)


@dataclass(frozen=True)
class Choices:
    """Which conflicts take the file's value: those the admin chose (as they were when chosen), or all of them."""

    whole_file: ConflictChoice = ConflictChoice.PLATFORM  # recorded on the run as the choice for the whole file
    take_file: frozenset[tuple] = frozenset()  # fingerprints of the conflicts that take the file's value
    take_all: bool = False  # every conflict takes the file's value (the command line's --take-file-values)

    def takes_file(self, conflict: Conflict) -> bool:
        """True when ``conflict`` takes the file's value; a conflict nobody chose for keeps the platform's."""
        return self.take_all or conflict.fingerprint in self.take_file


KEEP_PLATFORM = Choices()
TAKE_FILE = Choices(ConflictChoice.FILE, take_all=True)


def campaign_corrections(session: Session, school_id: int) -> dict[int, list[FieldCorrection]]:
    """The running campaign's corrections that changed, or may still change, a record: by student id."""
    campaign = active_campaign(session, school_id)
    if campaign is None:
        return {}
    found: dict[int, list[FieldCorrection]] = defaultdict(list)
    rows = session.execute(
        select(Confirmation.student_id, FieldCorrection)
        .join(FieldCorrection, FieldCorrection.confirmation_id == Confirmation.id)
        .where(Confirmation.campaign_id == campaign.id,
               FieldCorrection.status.in_([s.value for s in CAMPAIGN_CHANGES]))
        .order_by(FieldCorrection.id)
    )
    for student_id, correction in rows:
        found[student_id].append(correction)
    return found


def start_identities(session: Session, school_id: int) -> dict[int, dict[str, str]]:
    """The identity fields an applied correction changed, as they were at the campaign's start: by student id.

    The file of the national system still has them, and must find the same student (not add a second one)."""
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for student_id, corrections in campaign_corrections(session, school_id).items():
        for c in corrections:
            if c.slot == 0 and c.field_key in IDENTITY_KEYS and c.status == CorrectionStatus.APPLIED:
                out[student_id][c.field_key] = c.old_value
    return out


def find_conflicts(session: Session, school_id: int, result: CheckResult) -> list[Conflict]:
    """Every field of a matched student that the running campaign changed and the file says otherwise."""
    corrections = campaign_corrections(session, school_id)
    matched = {r.match_id: r for r in result.rows if r.match_id is not None and r.match_id in corrections}
    if not matched:
        return []
    ids = list(matched)
    records: dict[tuple[int, int], dict] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for student_id, record in session.execute(select(Student.id, Student.record).where(Student.id.in_(chunk))):
            records[(student_id, 0)] = record or {}
        for m in session.execute(select(FamilyMember.student_id, FamilyMember.slot, FamilyMember.record)
                                 .where(FamilyMember.student_id.in_(chunk))):
            records[(m.student_id, m.slot)] = m.record or {}
    conflicts = []
    for student_id, row in matched.items():
        for c in corrections[student_id]:
            if (c.slot, c.field_key) not in result.present:
                continue  # a column the file lacks keeps the stored value anyway
            in_file = (row.values if c.slot == 0 else row.members[c.slot]).get(c.field_key, "")
            now = records.get((student_id, c.slot), {}).get(c.field_key, "")
            if in_file != now:
                conflicts.append(Conflict(row.row, student_id, c.slot, c.field_key, c.old_value or "", in_file, now,
                                          c.new_value or "", c.status, c.id))
    conflicts.sort(key=lambda c: (c.row, _ORDER.get((c.slot, c.key), 9999)))
    return conflicts


def record_conflicts(session: Session, run: ImportRun, conflicts: list[Conflict],
                     choices: Choices | None = None) -> None:
    """Keep the conflicts with the run: without ``choices`` open for the admin, with them as the import did."""
    if not conflicts:
        return

    def choice(c: Conflict) -> str | None:
        if choices is None:
            return None
        return (ConflictChoice.FILE if choices.takes_file(c) else ConflictChoice.PLATFORM).value

    session.execute(insert(ImportConflict), [
        {"run_id": run.id, "student_id": c.student_id, "correction_id": c.correction_id, "row": c.row,
         "slot": c.slot, "field_key": c.key, "start_value": c.start, "file_value": c.file,
         "platform_value": c.platform, "corrected_value": c.corrected, "correction_status": c.status,
         "choice": choice(c)}
        for c in conflicts
    ])


def _effective():
    return func.coalesce(ImportConflict.choice, ImportRun.conflict_choice)


def chosen(session: Session, run: ImportRun) -> Choices:
    """The admin's choices on a checked run, for the commit."""
    rows = session.execute(
        select(ImportConflict.student_id, ImportConflict.slot, ImportConflict.field_key, ImportConflict.file_value,
               ImportConflict.platform_value)
        .join(ImportRun, ImportRun.id == ImportConflict.run_id)
        .where(ImportConflict.run_id == run.id, _effective() == ConflictChoice.FILE.value)
    ).all()
    return Choices(ConflictChoice(run.conflict_choice), frozenset(tuple(r) for r in rows))


def _choice(value: str) -> ConflictChoice:
    try:
        return ConflictChoice(value)
    except ValueError:
        raise DomainError(Message(N_("无法识别的选择，请在“保留平台的值”和“采用文件的值”中选一个"))) from None


def choose(
    session: Session,
    run: ImportRun,
    *,
    actor: Actor,
    whole_file: str | None = None,
    fields: dict[int, str] | None = None,
    now: datetime | None = None,
) -> int:
    """The admin's choice for the whole file (every conflict at once) or for single fields of a checked run.

    A field chosen like the whole file follows the whole file again. Returns how many conflicts the choice covered.
    """
    target = _choice(whole_file) if whole_file else None
    picked = {int(k): _choice(v) for k, v in (fields or {}).items()}
    if run.status != ImportStatus.CHECKED:
        raise DomainError(Message(N_("这个文件已经导入过，或者检查没有通过，不能再修改选择")))
    covered = 0
    if target is not None:
        claimed = session.execute(
            update(ImportRun).where(ImportRun.id == run.id, ImportRun.status == ImportStatus.CHECKED.value)
            .values(conflict_choice=target.value).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            raise DomainError(Message(N_("这个文件已经导入过，或者检查没有通过，不能再修改选择")))
        covered = session.execute(update(ImportConflict).where(ImportConflict.run_id == run.id)
                                  .values(choice=None).execution_options(synchronize_session=False)).rowcount
        session.refresh(run)
    default = ConflictChoice(run.conflict_choice)
    for value in ConflictChoice:
        ids = [i for i, c in picked.items() if c is value]
        if ids:
            covered += session.execute(
                update(ImportConflict).where(ImportConflict.run_id == run.id, ImportConflict.id.in_(ids))
                .values(choice=None if value is default else value.value)
                .execution_options(synchronize_session=False)).rowcount
    audit(session, actor, "import_conflicts.chosen", school_id=run.school_id, target=run, at=now or utcnow(),
          detail={"whole_file": target.value if target else None,
                  "fields": {str(i): c.value for i, c in sorted(picked.items())}})
    session.flush()
    return covered


@dataclass(frozen=True)
class ConflictCounts:
    """How many students and fields conflict, and how many of the fields take the file's value."""

    students: int = 0
    fields: int = 0
    taking_file: int = 0

    @property
    def keeping_platform(self) -> int:
        return self.fields - self.taking_file


@dataclass(frozen=True)
class ConflictPage:
    """One page of a run's conflicts, by student (in file order): each with its student and class."""

    items: list[tuple[ImportConflict, Student, SchoolClass, ConflictChoice]]
    page: int
    pages: int
    counts: ConflictCounts


def conflict_counts(session: Session, run: ImportRun) -> ConflictCounts:
    """The run's conflicts counted (one query)."""
    students, fields, taking = session.execute(
        select(func.count(func.distinct(ImportConflict.student_id)), func.count(ImportConflict.id),
               func.coalesce(func.sum(case((_effective() == ConflictChoice.FILE.value, 1), else_=0)), 0))
        .join(ImportRun, ImportRun.id == ImportConflict.run_id).where(ImportConflict.run_id == run.id)
    ).one()
    return ConflictCounts(students, fields, int(taking))


def conflict_page(session: Session, run: ImportRun, page: int = 1) -> ConflictPage:
    """Page ``page`` (from 1; out of range is the nearest page) of the run's conflicts, PAGE_SIZE students each."""
    counts = conflict_counts(session, run)
    pages = max(1, -(-counts.students // PAGE_SIZE))
    page = min(max(page, 1), pages)
    if not counts.fields:
        return ConflictPage([], page, pages, counts)
    first_row = func.min(ImportConflict.row)
    students = select(ImportConflict.student_id).where(ImportConflict.run_id == run.id) \
        .group_by(ImportConflict.student_id).order_by(first_row, ImportConflict.student_id) \
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE).subquery()
    rows = session.execute(
        select(ImportConflict, Student, SchoolClass)
        .join(students, students.c.student_id == ImportConflict.student_id)
        .join(Student, Student.id == ImportConflict.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(ImportConflict.run_id == run.id)
        .order_by(ImportConflict.row, ImportConflict.slot, ImportConflict.id)
    ).all()
    default = ConflictChoice(run.conflict_choice)
    items = [(c, s, k, ConflictChoice(c.choice) if c.choice else default) for c, s, k in rows]
    items.sort(key=lambda item: (item[0].row, _ORDER.get((item[0].slot, item[0].field_key), 9999)))
    return ConflictPage(items, page, pages, counts)
