"""Campaign progress by stage: one grouped query however many students a class has."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from confirm.models import Confirmation, Guardianship, Student
from confirm.states import Stage, State


def stage_expression(campaign_id: int | None):
    """A SQL expression giving each student's Stage, for a query joined as in ``_students_with_stage``."""
    has_parent = exists().where(Guardianship.student_id == Student.id)
    return case(
        (and_(Confirmation.state.is_not(None), Confirmation.state != State.OPEN.value), Confirmation.state),
        (has_parent, literal(Stage.REGISTERED.value)),
        else_=literal(Stage.UNREGISTERED.value),
    )


def _join_confirmation(query, campaign_id: int | None):
    return query.outerjoin(
        Confirmation,
        and_(Confirmation.student_id == Student.id, Confirmation.campaign_id == (campaign_id or -1)),
    )


def stage_counts(session: Session, class_ids: Iterable[int], campaign_id: int | None) -> dict[int, Counter]:
    """For each class id, a Counter of students per Stage."""
    class_ids = list(class_ids)
    result: dict[int, Counter] = {cid: Counter() for cid in class_ids}
    if not class_ids:
        return result
    stage = stage_expression(campaign_id).label("stage")
    query = _join_confirmation(select(Student.class_id, stage, func.count()), campaign_id)
    rows = session.execute(
        query.where(Student.class_id.in_(class_ids)).group_by(Student.class_id, stage)
    ).all()
    for class_id, stage_value, n in rows:
        result[class_id][Stage(stage_value)] = n
    return result


def students_with_stage(
    session: Session, class_id: int, campaign_id: int | None, stage: Stage | None = None
) -> list[tuple[Student, Stage]]:
    """The class's students with their stage, optionally only those in ``stage``, by name."""
    expr = stage_expression(campaign_id)
    query = _join_confirmation(select(Student, expr), campaign_id).where(Student.class_id == class_id)
    if stage is not None:
        query = query.where(expr == stage.value)
    rows = session.execute(query.order_by(Student.name, Student.id)).all()
    return [(student, Stage(value)) for student, value in rows]
