"""SMS in the domain: reminders and invitations (recipients, the 24-hour and quiet-hour rules, the budget) and the
outbox every message goes through (templates, secrets, one attempt at a time, retries, cut-short attempts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from confirm.clock import LOCAL_TZ
from confirm.models import AuditEvent, Notification
from confirm.presentation import given_name
from confirm.services import outbox, outreach, review
from confirm.services.common import Actor
from confirm.services.outbox import SmsError
from confirm.services.outreach import OverBudget
from confirm.states import MessageKind, Stage
from confirm.validation import mobile_number
from tests.factories import make_campaign, make_class, make_parent, make_school, make_staff, make_student
from tests.fakes import SentMessages

Kind = MessageKind

NOON = datetime(2026, 9, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
KEY = b"k" * 32
LATE = datetime(2026, 9, 20, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai


@pytest.fixture
def school_class(session):
    school = make_school(session)
    teacher = make_staff(session, school)
    make_campaign(session, school)
    return make_class(session, school, teacher)


def pupil(session, school_class, n: int, **phones):
    """A student whose numbers are distinct: 1390000n0n1 on the record, 1390000n0n2 on the family member."""
    student = make_student(session, school_class, phone=phones.get("phone", f"1390000{n:02d}01"))
    student.members[0].set_value("phone", phones.get("member", f"1390000{n:02d}02"))
    session.flush()
    return student


def compose(student, stage, kind):
    return f"reminder_{stage.value}", {"school": "测试小学", "student_name": student.name, "link": "L", "deadline": ""}


def queue(session, school_class, students, kind=Kind.REMINDER, *, budget=100, now=NOON):
    teacher = Actor("staff", school_class.head_teacher_id)
    return outreach.queue_messages(session, school_class.school, students, kind, compose=compose, budget=budget,
                                   key=KEY,
                                   actor=teacher, now=now)


@pytest.mark.parametrize(("raw", "mobile"), [
    ("13912345678", "13912345678"), ("+86 139-1234-5678", "13912345678"), ("0086 13912345678", "13912345678"),
    ("010-12345678", None), ("12912345678", None), ("1391234567", None), ("", None),
])
def test_only_mainland_mobile_numbers_can_take_an_sms(raw, mobile):
    assert mobile_number(raw) == mobile


@pytest.mark.parametrize(("name", "given"), [("张小明", "小明"), ("欧阳娜娜", "娜娜"), ("王五", "五"), ("李", "李")])
def test_messages_use_the_childs_given_name(name, given):
    assert given_name(name) == given


def test_unregistered_student_is_reached_on_every_mobile_of_the_record_and_landlines_are_flagged(session,
                                                                                                 school_class):
    student = pupil(session, school_class, 1, phone="0851-86001234")

    found = outreach.recipients_for(session, student, Stage.UNREGISTERED)

    assert found.phones == [("13900000102", None)]
    assert found.invalid == ["0851-86001234"]


def test_registered_student_is_reached_on_the_linked_parents_phones_only(session, school_class):
    student = pupil(session, school_class, 1)
    parent = make_parent(session, student, phone="13800009999")

    found = outreach.recipients_for(session, student, Stage.REGISTERED)

    assert found.phones == [("13800009999", parent.id)]


def test_queueing_creates_one_message_per_phone_with_the_composed_text_and_an_audit_row(session, school_class):
    a, b = pupil(session, school_class, 1), pupil(session, school_class, 2)

    plan, created = queue(session, school_class, [(a, Stage.UNREGISTERED), (b, Stage.UNREGISTERED)])

    assert sorted((n.student_id, n.phone, n.status) for n in created) == sorted([
        (a.id, "13900000102", "queued"), (a.id, "13900000101", "queued"),
        (b.id, "13900000202", "queued"), (b.id, "13900000201", "queued"),
    ])
    assert created[0].body.startswith(f"【测试小学】{given_name(a.name)}同学家长您好")
    assert created[0].template == "reminder_unregistered" and a.id_number not in created[0].body
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "reminder.queue"))
    assert event.detail["messages"] == 4 and event.actor_id == school_class.head_teacher_id


def test_a_phone_gets_at_most_one_message_in_24_hours(session, school_class):
    a = pupil(session, school_class, 1)
    queue(session, school_class, [(a, Stage.UNREGISTERED)])

    plan, again = queue(session, school_class, [(a, Stage.UNREGISTERED)], now=NOON + timedelta(hours=23))
    assert again == [] and plan.recent_count == 2

    _, next_day = queue(session, school_class, [(a, Stage.UNREGISTERED)], now=NOON + timedelta(hours=25))
    assert len(next_day) == 2


def test_siblings_sharing_a_phone_get_one_message(session, school_class):
    a = pupil(session, school_class, 1, member="13911112222")
    b = pupil(session, school_class, 2, member="13911112222")

    plan, created = queue(session, school_class, [(a, Stage.UNREGISTERED), (b, Stage.UNREGISTERED)])

    assert [n.phone for n in created].count("13911112222") == 1
    assert plan.recent_count == 1


def test_a_student_without_any_mobile_is_listed_as_no_phone(session, school_class):
    a = pupil(session, school_class, 1, phone="0851-86001234", member="")

    plan, created = queue(session, school_class, [(a, Stage.UNREGISTERED)])

    assert created == [] and plan.no_phone == [a]
    assert plan.invalid == [(a, "0851-86001234")]


def test_in_quiet_hours_messages_are_scheduled_for_eight_in_the_morning(session, school_class):
    a = pupil(session, school_class, 1)

    _, created = queue(session, school_class, [(a, Stage.UNREGISTERED)], now=LATE)

    assert {n.status for n in created} == {"scheduled"}
    assert created[0].scheduled_for == datetime(2026, 9, 21, 0, 0, tzinfo=UTC)  # 08:00 Shanghai next day
    assert outbox.due_ids(session, now=LATE) == []
    assert len(outbox.due_ids(session, now=datetime(2026, 9, 21, 0, 0, tzinfo=UTC))) == 2


@pytest.mark.parametrize(("local", "expected"), [
    ("07:59", "08:00 same day"), ("08:00", None), ("20:59", None), ("21:00", "08:00 next day"),
    ("00:30", "08:00 same day"),
])
def test_quiet_hours_run_from_nine_in_the_evening_to_eight_in_the_morning(local, expected):
    hour, minute = map(int, local.split(":"))
    now = datetime(2026, 9, 20, hour, minute, tzinfo=LOCAL_TZ)
    at = outreach.send_time(now)
    if expected is None:
        assert at is None
    else:
        day = 21 if "next" in expected else 20
        assert at == datetime(2026, 9, day, 8, 0, tzinfo=LOCAL_TZ)


def test_a_burst_past_the_daily_budget_is_refused_whole_with_the_remaining_budget(session, school_class):
    students = [(pupil(session, school_class, n), Stage.UNREGISTERED) for n in range(1, 4)]  # 6 phones
    queue(session, school_class, students[:1], budget=7)  # 2 used, 5 left

    with pytest.raises(OverBudget) as refused:
        queue(session, school_class, students[1:], budget=7)  # needs 4: fine
        queue(session, school_class, [(pupil(session, school_class, 9), Stage.UNREGISTERED)], budget=7)

    assert refused.value.message.params == {"needed": 2, "left": 1}
    assert session.scalar(select(Notification.id).where(Notification.phone == "13900000901")) is None


def test_the_budget_starts_again_at_midnight_shanghai_time(session, school_class):
    a, b = pupil(session, school_class, 1), pupil(session, school_class, 2)
    queue(session, school_class, [(a, Stage.UNREGISTERED)], budget=2, now=datetime(2026, 9, 20, 15, 59, tzinfo=UTC))

    _, created = queue(session, school_class, [(b, Stage.UNREGISTERED)], budget=2,
                       now=datetime(2026, 9, 20, 16, 1, tzinfo=UTC))  # 00:01 on the 21st in Shanghai

    assert len(created) == 2


class Provider:
    def __init__(self, *failures):
        self.sent, self.failures = [], list(failures)

    def send(self, phone, text):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((phone, text))
        return f"SM{len(self.sent)}"


def deliver(session, notification, provider, now=NOON):
    """One attempt, as the sender makes it."""
    if not outbox.claim(session, notification, now=now):
        return "not due"
    try:
        provider_id = provider.send(notification.phone, outbox.text_to_send(notification))
    except SmsError as exc:
        return outbox.record_failure(session, notification, exc, backoff=2, now=now)
    outbox.record_sent(session, notification, provider_id, now)
    return "sent"


def test_a_sent_message_records_the_provider_id_and_time(session, school_class):
    _, [n, _m] = queue(session, school_class, [(pupil(session, school_class, 1), Stage.UNREGISTERED)])

    assert deliver(session, n, Provider()) == "sent"
    assert (n.status, n.provider_id, n.sent_at, n.attempts) == ("sent", "SM1", NOON, 1)
    assert deliver(session, n, Provider()) == "not due"  # sending again is a no-op


def test_temporary_failures_are_retried_with_growing_waits_then_fail_for_good(session, school_class):
    _, [n, _m] = queue(session, school_class, [(pupil(session, school_class, 1), Stage.UNREGISTERED)])
    busy = SmsError("短信服务限流（HTTP 429）", permanent=False)
    provider = Provider(busy, busy, busy)

    assert deliver(session, n, provider) == NOON + timedelta(seconds=2)
    assert n.status == "queued" and "将自动重试" in n.reason
    assert deliver(session, n, provider, now=NOON + timedelta(seconds=1)) == "not due"  # not yet
    assert deliver(session, n, provider, now=NOON + timedelta(seconds=2)) == NOON + timedelta(seconds=6)
    assert deliver(session, n, provider, now=NOON + timedelta(seconds=6)) is None
    assert (n.status, n.attempts) == ("failed", 3)
    assert n.reason == "已尝试 3 次仍未成功：短信服务限流（HTTP 429）"


def test_a_permanent_failure_is_not_retried(session, school_class):
    _, [n, _m] = queue(session, school_class, [(pupil(session, school_class, 1), Stage.UNREGISTERED)])

    assert deliver(session, n, Provider(SmsError("手机号码无效", permanent=True))) is None
    assert (n.status, n.reason, n.attempts) == ("failed", "手机号码无效", 1)
    assert outbox.due_ids(session, now=NOON + timedelta(days=1)) == [_m.id]


def test_a_reminder_for_a_student_who_moved_on_is_skipped_not_sent(session, school_class):
    a = pupil(session, school_class, 1)
    _, [n, _m] = queue(session, school_class, [(a, Stage.UNREGISTERED)], Kind.INVITATION)
    make_parent(session, a)  # the parent registered before the message went out

    assert deliver(session, n, Provider()) == "not due"
    assert n.status == "skipped" and n.reason


# --- the outbox --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "given"), [("欧阳娜娜", "娜娜"), ("王小明", "小明")])
def test_a_returned_sheet_is_told_with_the_childs_given_name(session, school_class, name, given):
    from confirm.services import records
    from confirm.services.files import record_file

    student = pupil(session, school_class, 1)
    student.set_value("name", name)
    parent = make_parent(session, student, phone="13800001234")
    campaign = make_campaign(session, school_class.school)
    confirmation = records.ensure_confirmation(session, campaign, student)
    by_parent = Actor("parent", parent.id)
    sheet = record_file(session, student, kind="sheet", storage_key=f"sheet/{student.id}.jpg", sha256="0" * 64,
                        content_type="image/jpeg", size_bytes=1, width=1, height=1, actor=by_parent)
    review.submit_confirmation(session, confirmation, sheet, actor=by_parent)
    session.commit()
    sent = SentMessages(session)

    review.return_confirmation(session, confirmation, "照片不清楚", actor=Actor("staff", school_class.head_teacher_id))
    assert sent.sent == []  # nothing is handed over before the decision is saved
    session.commit()

    [(phone, text)] = sent.sent
    assert phone == "13800001234"
    assert text.startswith(f"【学籍信息确认】{given}的学籍确认表已被班主任退回")
    assert f"/parent/students/{student.id}/submit" in text  # the link to the page that needs action


def test_a_number_that_is_no_mobile_fails_with_a_reason_before_anything_is_sent(session):
    sent = SentMessages(session)

    message = outbox.queue_sms(session, phone="0851-86001234", template="staff_phone_changed", kind=Kind.NOTICE)
    session.commit()

    assert (message.status, message.reason) == ("failed", "不是手机号码，无法发送短信")
    assert sent.ids == []


def test_a_code_is_never_kept_in_the_body_and_is_forgotten_once_sent(session):
    message = outbox.queue_sms(session, phone="13912345678", template="code_parent", kind=Kind.CODE,
                               secret="246810", now=NOON)
    assert "246810" not in message.body and "246810" not in outbox.shown_body(message)
    assert "246810" in outbox.text_to_send(message)

    provider = Provider()
    assert deliver(session, message, provider, now=NOON + timedelta(seconds=1)) == "sent"

    assert message.secret is None and "246810" in provider.sent[0][1]
    assert session.scalar(select(Notification.secret).where(Notification.id == message.id)) is None


def test_an_expired_code_waiting_for_a_retry_is_not_sent_any_more(session):
    message = outbox.queue_sms(session, phone="13912345678", template="code_parent", kind=Kind.CODE,
                               secret="246810", now=NOON)
    deliver(session, message, Provider(SmsError("短信服务限流（HTTP 429）", permanent=False)), now=NOON)

    assert deliver(session, message, Provider(), now=NOON + timedelta(minutes=11)) == "not due"
    assert (message.status, message.secret) == ("skipped", None)


def test_an_attempt_cut_short_is_seen_as_stale_and_goes_back_to_the_queue(session):
    message = outbox.queue_sms(session, phone="13912345678", template="staff_phone_changed", kind=Kind.NOTICE,
                               now=NOON)
    assert outbox.claim(session, message, now=NOON)  # 'sending' saved, then the sender died

    assert not outbox.is_stale(message, NOON + timedelta(minutes=5))
    assert outbox.due_ids(session, now=NOON + timedelta(minutes=5)) == []
    assert not outbox.claim(session, message, now=NOON + timedelta(minutes=5))  # never two senders at once
    later = NOON + timedelta(minutes=20)
    assert outbox.is_stale(message, later) and outbox.due_ids(session, now=later) == [message.id]
    outbox.record_unsure(session, message)
    assert deliver(session, message, Provider(), now=later) == "sent" and message.attempts == 2
