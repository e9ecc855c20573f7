"""The head teacher's review queue: one submission after another, verdicts, common return reasons, bulk approval."""

from __future__ import annotations

from sqlalchemy import select

from confirm.models import AuditEvent, Confirmation
from tests.factories import make_parent, make_student
from tests.webapp.test_teacher_review import hand_in, logged_in


def _three_waiting(app, db, world):
    a = world.students_a
    extra = make_student(db, world.class_a)
    parent = make_parent(db, a[1], a[2], extra)
    db.commit()
    first = hand_in(app, db, world, a[0], world.parent.id)
    second = hand_in(app, db, world, a[1], parent.id, {(0, "current_address"): "贵阳市新地址8号"})
    third = hand_in(app, db, world, extra, parent.id)
    return first, second, third


def test_queue_opens_the_first_submission_and_links_previous_and_next(app, db, world):
    first, second, third = _three_waiting(app, db, world)
    teacher = logged_in(app, world.teacher.username)
    response = teacher.get(f"/teacher/classes/{world.class_a.id}/queue")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/teacher/students/{first.student_id}")
    page = teacher.get(f"/teacher/students/{second.student_id}").get_data(as_text=True)
    assert "待审核 第 2 / 3 份" in page
    assert f'href="/teacher/students/{first.student_id}" rel="prev"' in page
    assert f'href="/teacher/students/{third.student_id}" rel="next"' in page
    assert '<span class="ok"' in page  # the new address passed every check


def test_after_approving_the_next_submission_opens(app, db, world):
    first, second, _third = _three_waiting(app, db, world)
    teacher = logged_in(app, world.teacher.username)
    response = teacher.post(f"/teacher/students/{first.student_id}/approve")
    assert response.headers["Location"].endswith(f"/teacher/students/{second.student_id}")


def test_return_with_a_common_reason_texts_the_parent_and_opens_the_next(app, db, world, outbox):
    first, second, _third = _three_waiting(app, db, world)
    teacher = logged_in(app, world.teacher.username)
    response = teacher.post(f"/teacher/students/{first.student_id}/return",
                            data={"common": "缺少家长签字", "reason": "请在右下角签字"})
    assert response.headers["Location"].endswith(f"/teacher/students/{second.student_id}")
    db.expire_all()
    assert db.get(Confirmation, first.id).return_reason == "缺少家长签字；请在右下角签字"
    assert [phone for phone, _text in outbox] == [world.parent.phone]


def test_common_reason_alone_is_enough_to_return(app, db, world):
    confirmation = hand_in(app, db, world, world.students_a[0], world.parent.id)
    teacher = logged_in(app, world.teacher.username)
    assert teacher.post(f"/teacher/students/{confirmation.student_id}/return",
                        data={"common": "照片不清楚"}).status_code == 302
    db.expire_all()
    assert db.get(Confirmation, confirmation.id).return_reason == "照片不清楚"


def test_empty_queue_says_so(app, world):
    teacher = logged_in(app, world.teacher.username)
    page = teacher.get(f"/teacher/classes/{world.class_a.id}/queue").get_data(as_text=True)
    assert "没有待审核的确认表" in page


def test_bulk_approval_shows_the_count_and_approves_only_plain_submissions(app, db, world):
    first, second, third = _three_waiting(app, db, world)
    teacher = logged_in(app, world.teacher.username)
    page = teacher.get(f"/teacher/classes/{world.class_a.id}/bulk-approve").get_data(as_text=True)
    assert "可以批量通过 2 份" in page
    response = teacher.post(f"/teacher/classes/{world.class_a.id}/bulk-approve")
    assert response.status_code == 302
    db.expire_all()
    states = {c.id: c.state for c in db.scalars(select(Confirmation))}
    assert states == {first.id: "approved", second.id: "submitted", third.id: "approved"}
    approved = db.scalars(select(AuditEvent.target_id).where(AuditEvent.action == "confirmation.approved")).all()
    assert sorted(approved) == sorted([first.id, third.id])


def test_other_teacher_cannot_bulk_approve_the_class(app, db, world):
    confirmation = hand_in(app, db, world, world.students_a[0], world.parent.id)
    other = logged_in(app, world.other_teacher.username)
    assert other.post(f"/teacher/classes/{world.class_a.id}/bulk-approve").status_code == 404
    db.expire_all()
    assert db.get(Confirmation, confirmation.id).state == "submitted"
