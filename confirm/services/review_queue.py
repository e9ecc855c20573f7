"""The head teacher's review queue: submissions in the order they came in, checks of each new value, and
bulk approval of the plain ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from confirm.fields import field_for
from confirm.i18n import Message
from confirm.models import Confirmation, FieldCorrection, Student, utcnow
from confirm.services.common import Actor, audit
from confirm.services.records import proposed_values
from confirm.services.review import approve_confirmation
from confirm.states import State
from confirm.validation import clean_value, validate_record

_ID_LINKED = {"id_type", "id_number", "birth_date", "gender"}


def submitted_in_order(session: Session, class_id: int, campaign_id: int | None) -> list[int]:
    """Student ids of the class's submissions waiting for review, first come first."""
    if campaign_id is None:
        return []
    return list(session.scalars(
        select(Confirmation.student_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(Student.class_id == class_id, Confirmation.campaign_id == campaign_id,
               Confirmation.state == State.SUBMITTED.value)
        .order_by(Confirmation.submitted_at, Confirmation.id)
    ))


@dataclass(frozen=True)
class Position:
    """Where one student stands in the queue: 1-based index, total, and the neighbours' student ids."""

    index: int
    total: int
    previous_id: int | None
    next_id: int | None


def position_in(queue: list[int], student_id: int) -> Position | None:
    """The student's place in ``queue`` (None when the student is not waiting)."""
    if student_id not in queue:
        return None
    i = queue.index(student_id)
    return Position(i + 1, len(queue), queue[i - 1] if i > 0 else None, queue[i + 1] if i + 1 < len(queue) else None)


def next_after(queue_before: list[int], student_id: int, queue_now: list[int]) -> int | None:
    """The student to review after ``student_id`` was decided: the next one that still waits, else the first."""
    if student_id in queue_before:
        later = queue_before[queue_before.index(student_id) + 1:]
        following = next((s for s in later if s in queue_now), None)
        if following is not None:
            return following
    return queue_now[0] if queue_now else None


@dataclass(frozen=True)
class Verdict:
    """The checks of one corrected value: errors and warnings (none of either: ✓)."""

    errors: list[Message]
    warnings: list[Message]

    @property
    def is_ok(self) -> bool:
        return not self.errors and not self.warnings


def correction_verdicts(student: Student, corrections: list[FieldCorrection]) -> dict[tuple[int, str], Verdict]:
    """For each correction (slot, key): what the validators say of the new value within the corrected record."""
    wanted = {(c.slot, c.field_key): c.new_value for c in corrections}
    errors: dict[tuple[int, str], list[Message]] = {k: [] for k in wanted}
    warnings: dict[tuple[int, str], list[Message]] = {k: [] for k in wanted}
    for (slot, key), new in wanted.items():
        _value, problems, cautions = clean_value(field_for(slot, key), new)
        errors[(slot, key)].extend(problems)
        warnings[(slot, key)].extend(cautions)
    values, members = proposed_values(student, wanted)
    id_linked = [k for k in wanted if k[0] == 0 and k[1] in _ID_LINKED]
    for problem in validate_record(values, members):
        where = problem.where(wanted.keys())  # a mismatch shows at the corrected field
        targets = [where] if where in wanted else []
        if not targets and where[0] == 0 and where[1] in _ID_LINKED:
            targets = id_linked  # an ID mismatch reported on a field that was not corrected
        for target in targets:
            (warnings if problem.is_warning else errors)[target].append(problem.message)
    return {k: Verdict(errors[k], warnings[k]) for k in wanted}


def bulk_approvable(session: Session, class_id: int, campaign_id: int | None) -> list[Confirmation]:
    """Submissions of the class without any correction whose sheet photo passed every quality check."""
    if campaign_id is None:
        return []
    waiting = session.scalars(
        select(Confirmation)
        .join(Student, Student.id == Confirmation.student_id)
        .where(Student.class_id == class_id, Confirmation.campaign_id == campaign_id,
               Confirmation.state == State.SUBMITTED.value, ~Confirmation.corrections.any())
        .options(selectinload(Confirmation.sheet_file), selectinload(Confirmation.student))
        .order_by(Confirmation.submitted_at, Confirmation.id)
    )
    # A photo the gate refused and a teacher accepted anyway carries the override reason: it needs a person's look.
    return [c for c in waiting if c.sheet_file is not None and not (c.sheet_file.quality or {}).get("override_reason")]


def bulk_approve(
    session: Session, confirmations: list[Confirmation], *, actor: Actor, now: datetime | None = None
) -> int:
    """Approve each of ``confirmations`` (each audited); returns how many."""
    now = now or utcnow()
    for confirmation in confirmations:
        approve_confirmation(session, confirmation, actor=actor, now=now)
    if confirmations:
        audit(session, actor, "confirmation.bulk_approved", school_id=confirmations[0].student.school_id,
              detail={"count": len(confirmations), "confirmation_ids": [c.id for c in confirmations]}, at=now)
        session.flush()
    return len(confirmations)
