"""The confirmation of one student's record: campaign, current values, the parent's corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from confirm.errors import FieldErrors, InvalidTransition
from confirm.fields import MEMBER_FIELDS, MEMBER_SLOTS, STUDENT_FIELDS, Field, field_for
from confirm.i18n import N_, Message
from confirm.models import Campaign, Confirmation, FamilyMember, FieldCorrection, School, Student, utcnow
from confirm.services.common import Actor, audit
from confirm.states import EDITABLE_STATES, CorrectionStatus, State
from confirm.validation import clean_value, validate_record

# A change to any of these re-checks the ID number against birth date and gender.
ID_LINKED = ("id_type", "id_number", "birth_date", "gender")  # the ID number carries the birth date and gender
_ID_LINKED = set(ID_LINKED)
_MEMBER_ID_LINKED = ("id_type", "id_number")


def active_campaign(session: Session, school_id: int) -> Campaign | None:
    """The school's running campaign (the newest active one)."""
    return session.scalar(
        select(Campaign)
        .where(Campaign.school_id == school_id, Campaign.is_active)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(1)
    )


def school_and_campaign(session: Session, school_id: int) -> tuple[School, Campaign | None]:
    """The school and its running campaign (as ``active_campaign``) in one statement, for pages that show both."""
    row = session.execute(
        select(School, Campaign)
        .outerjoin(Campaign, (Campaign.school_id == School.id) & Campaign.is_active)
        .where(School.id == school_id)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(1)
    ).one()
    return row[0], row[1]


def confirmation_for(session: Session, campaign: Campaign, student: Student, *,
                     with_corrections: bool = False) -> Confirmation | None:
    """The student's confirmation in ``campaign``, if one was started (``with_corrections``: loaded in the same
    statement, for pages that show them)."""
    query = select(Confirmation).where(Confirmation.campaign_id == campaign.id,
                                       Confirmation.student_id == student.id)
    if with_corrections:
        return session.scalars(query.options(joinedload(Confirmation.corrections))).unique().first()
    return session.scalar(query)


# Built once (a record page asks for it on every view): the parameters are bound at execution.
_CAMPAIGN_AND_CONFIRMATION = (
    select(Campaign, Confirmation)
    .outerjoin(Confirmation, (Confirmation.campaign_id == Campaign.id)
               & (Confirmation.student_id == bindparam("student_id")))
    .where(Campaign.school_id == bindparam("school_id"), Campaign.is_active)
    .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    .limit(1)
)
_CAMPAIGN_AND_CONFIRMATION_WITH_CORRECTIONS = _CAMPAIGN_AND_CONFIRMATION.options(joinedload(Confirmation.corrections))


def campaign_and_confirmation(session: Session, student: Student, *,
                              with_corrections: bool = False) -> tuple[Campaign | None, Confirmation | None]:
    """The school's running campaign and the student's confirmation in it, in one statement: (None, None) without a
    running campaign, (campaign, None) before the confirmation was started (``with_corrections``: as
    ``confirmation_for``)."""
    query = _CAMPAIGN_AND_CONFIRMATION_WITH_CORRECTIONS if with_corrections else _CAMPAIGN_AND_CONFIRMATION
    row = session.execute(query, {"student_id": student.id, "school_id": student.school_id}).unique().first()
    return (row[0], row[1]) if row else (None, None)


def ensure_confirmation(session: Session, campaign: Campaign, student: Student) -> Confirmation:
    """The student's confirmation in ``campaign``, created (state open) on first use."""
    found = confirmation_for(session, campaign, student)
    if found is None:
        found = Confirmation(campaign_id=campaign.id, student_id=student.id, state=State.OPEN.value)
        try:
            with session.begin_nested():
                session.add(found)
        except IntegrityError:  # a parallel request started it a moment ago (one per student and campaign)
            found = confirmation_for(session, campaign, student)
    return found


def current_values(student: Student) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    """The record as stored: student values and each family member's values."""
    members = {slot: dict(m.record) if (m := student.member(slot)) else {} for slot in MEMBER_SLOTS}
    return dict(student.record or {}), members


def proposed_values(
    student: Student, corrections: dict[tuple[int, str], str]
) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    """The record as it would be with ``corrections`` applied."""
    values, members = current_values(student)
    for (slot, key), new in corrections.items():
        target = values if slot == 0 else members[slot]
        if new:
            target[key] = new
        else:
            target.pop(key, None)
    return values, members


def form_name(slot: int, key: str) -> str:
    """The form input name of field ``key`` in ``slot`` (0 student, 1/2 family member)."""
    return f"c{slot}-{key}"


@dataclass
class SaveResult:
    """What saving corrections changed and what it warns about."""

    saved: int = 0
    removed: int = 0
    warnings: list[tuple[str, Message]] = field(default_factory=list)


def fields_checked_together(slot: int, key: str) -> tuple[str, ...]:
    """The keys corrected as one with ``key`` in ``slot``: an ID number with its type (and a student's birth date
    and gender, which the number carries); any other field on its own."""
    linked = ID_LINKED if slot == 0 else _MEMBER_ID_LINKED
    return linked if key in linked else (key,)


def parent_fields() -> list[tuple[int, Field]]:
    """Every (slot, field) a parent may correct, in sheet order."""
    out = [(0, f) for f in STUDENT_FIELDS if f.parent_editable]
    out += [(slot, f) for slot in MEMBER_SLOTS for f in MEMBER_FIELDS if f.parent_editable]
    return out


def save_corrections(
    session: Session,
    confirmation: Confirmation,
    entries: dict[tuple[int, str], str],
    *,
    actor: Actor,
    now: datetime | None = None,
) -> SaveResult:
    """Record the corrections typed for each (slot, key); an empty entry withdraws that correction.

    Every value is cleaned with its field's rules and the corrected record is re-checked as a whole;
    problems are raised as FieldErrors keyed by form input name, and nothing is saved then.
    """
    now = now or utcnow()
    if State(confirmation.state) not in EDITABLE_STATES:
        raise InvalidTransition(Message(N_("材料已提交，审核完成前不能修改；如需修改请联系班主任退回")))
    student = confirmation.student
    existing = {(c.slot, c.field_key): c for c in confirmation.corrections}
    stored_values, stored_members = current_values(student)
    errors: list[tuple[str, Message]] = []
    cleaned: dict[tuple[int, str], str] = {}
    value_warnings: dict[tuple[int, str], list[Message]] = {}
    for (slot, key), raw in entries.items():
        fdef = field_for(slot, key)
        if not fdef.parent_editable:
            errors.append((form_name(slot, key), Message(N_("该项由学校维护，不能在此更正"))))
            continue
        value, problems, warnings = clean_value(fdef, raw)
        if problems:
            errors.extend((form_name(slot, key), p) for p in problems)
        elif str(raw).strip():
            cleaned[(slot, key)] = value
            value_warnings[(slot, key)] = warnings
    # With a value refused on its own, the record is still checked for the others (an ID number's check digit), so
    # the parent hears of every problem at once; only checks between two fields wait, as one side is not known yet.
    refused = {name for name, _message in errors}

    def stored(slot: int, key: str) -> str:
        return (stored_values if slot == 0 else stored_members[slot]).get(key, "")

    wanted = {k: c.new_value for k, c in existing.items()}
    for slot_key in entries:
        if slot_key in cleaned and cleaned[slot_key] != stored(*slot_key):
            wanted[slot_key] = cleaned[slot_key]
        else:
            wanted.pop(slot_key, None)

    changed = {k for k in entries if k in wanted}
    values, members = proposed_values(student, wanted)
    relevant = set(changed)
    if {(0, k) for k in _ID_LINKED} & changed:
        relevant |= {(0, k) for k in _ID_LINKED}
    result = SaveResult()
    for slot_key in entries:  # warnings about a corrected value on its own (e.g. an unknown county code)
        if slot_key in changed:
            result.warnings.extend((form_name(*slot_key), m) for m in value_warnings.get(slot_key, []))
    for problem in validate_record(values, members):
        where = problem.where(changed)  # a mismatch shows at the field the parent changed
        if where not in relevant or (refused and (problem.other_key or form_name(*where) in refused)):
            continue
        if problem.is_warning:
            result.warnings.append((form_name(*where), problem.message))
        else:
            errors.append((form_name(*where), problem.message))
    if errors:
        raise FieldErrors(errors)

    for slot_key in entries:
        correction = existing.get(slot_key)
        if slot_key in wanted:
            slot, key = slot_key
            if correction is None:
                correction = FieldCorrection(
                    slot=slot, field_key=key, requested_by_kind=actor.kind, requested_by_id=actor.id or 0,
                    created_at=now,
                )
                confirmation.corrections.append(correction)
            correction.old_value = stored(slot, key)
            correction.new_value = wanted[slot_key]
            correction.is_key_data = slot == 0 and field_for(0, key).key_data
            correction.status = CorrectionStatus.DRAFT.value
            result.saved += 1
        elif correction is not None:
            confirmation.corrections.remove(correction)
            result.removed += 1
    if result.saved or result.removed:
        audit(session, actor, "corrections.saved", school_id=student.school_id, target=confirmation, at=now,
              detail={"fields": sorted(f"{slot}.{key}" for slot, key in changed),
                      "saved": result.saved, "removed": result.removed})
    session.flush()
    return result


def apply_correction(student: Student, correction: FieldCorrection) -> None:
    """Write an approved correction into the student's record."""
    if correction.slot == 0:
        student.set_value(correction.field_key, correction.new_value)
        return
    member = student.member(correction.slot)
    if member is None:
        member = FamilyMember(slot=correction.slot, record={})
        student.members.append(member)
    member.set_value(correction.field_key, correction.new_value)
    student.record_version = (student.record_version or 1) + 1
