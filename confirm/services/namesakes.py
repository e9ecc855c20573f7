"""Labels that tell a class's students apart, for every page and print-out that lists students."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from confirm.i18n import Message
from confirm.models import Student
from confirm.presentation import Namesake, distinguishing_suffixes, label_with


@dataclass(frozen=True)
class StudentLabels:
    """``labels(student)``: the student's label within the class (see ``distinguishing_suffixes``);
    ``labels.suffix(student)``: only what follows the name, None for a name alone in its class."""

    suffixes: dict[int, Message] = field(default_factory=dict)

    def __call__(self, student: Student) -> Message:
        return label_with(student.name, self.suffixes.get(student.id))

    def suffix(self, student: Student) -> Message | None:
        return self.suffixes.get(student.id)

    def shown(self, students: Iterable, gettext) -> dict[int, str]:
        """Each student's label as a page shows it, by id (students: anything with ``id`` and ``name``). Only a
        namesake's label needs ``gettext``: a name alone in its class is shown as it is."""
        return {s.id: self(s).render(gettext) if s.id in self.suffixes else s.name for s in students}


def student_labels(session: Session, class_ids: Iterable[int]) -> StudentLabels:
    """The labels of the classes' students, in two queries however many students: only namesakes are loaded, and
    they are compared with the whole class, whichever of them a page shows."""
    class_ids = sorted(set(class_ids))
    if not class_ids:
        return StudentLabels()
    shared = (
        select(Student.class_id, Student.name)
        .where(Student.class_id.in_(class_ids))
        .group_by(Student.class_id, Student.name)
        .having(func.count() > 1)
    )
    return _labels_of(session, [tuple(p) for p in session.execute(shared)])


def class_labels(session: Session, class_id: int, students: Iterable) -> StudentLabels:
    """The labels of a class's students from the whole class already loaded (``students``: each with ``id`` and
    ``name``): no statement at all unless two of them share a name, then one for the namesakes."""
    seen: set[str] = set()
    shared = {s.name for s in students if s.name in seen or seen.add(s.name)}
    return _labels_of(session, [(class_id, name) for name in sorted(shared)])


def _labels_of(session: Session, pairs: list[tuple[int, str]]) -> StudentLabels:
    """The labels of the students of the (class id, name) ``pairs`` (names shared in their class)."""
    if not pairs:
        return StudentLabels()
    rows = session.execute(
        select(Student.id, Student.class_id, Student.name, Student.record, Student.upload_no)
        .where(tuple_(Student.class_id, Student.name).in_(pairs))
    ).all()
    namesakes = [Namesake(i, c, n, (r or {}).get("birth_date") or "", (r or {}).get("class_seat_no") or "", u or "")
                 for i, c, n, r, u in rows]
    return StudentLabels(distinguishing_suffixes(namesakes))
