"""Key-data 核办: when the campaign says so, a key-data change the school admin passed goes to the district, whose
supervisor applies or rejects it; the family, the head teacher and the admin see the outcome; every step audited."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.errors import InvalidTransition
from confirm.key_data_list import HEADERS
from confirm.models import AuditEvent, Campaign, FieldCorrection, StaffUser, Student, utcnow
from confirm.services import keydata, proofs, records, review
from confirm.services.common import Actor
from tests.factories import (
    PASSWORD,
    make_campaign,
    make_class,
    make_district,
    make_school,
    make_student,
    make_supervisor,
)
from tests.webapp.test_teacher_review import hand_in, logged_in


@pytest.fixture
def district(db, world):
    county = make_district(db, world.school, name="道真县教育局")
    make_supervisor(db, county, username="sup_a")
    make_supervisor(db, county, username="sup_b")
    other = make_district(db, world.other_school, name="别县教育局")
    make_supervisor(db, other, username="sup_other")
    campaign = db.get(Campaign, world.campaign.id)
    campaign.key_data_needs_district = True
    db.commit()
    return county


@pytest.fixture
def at_admin(app, db, world, district):
    """students_a[0]'s 民族 and 姓名 corrections with a proof, passed on by the head teacher to the admin."""
    student = world.students_a[0]
    confirmation = records.ensure_confirmation(db, world.campaign, db.merge(student))
    records.save_corrections(db, confirmation, {(0, "ethnicity"): "06", (0, "name"): "王新名"},
                             actor=Actor("parent", world.parent.id))
    proofs.add_proof(db, confirmation, proofs.ProofUpload(b"jpeg", "ab" * 32, "image/jpeg", thumbnail=b"t"),
                     store=app.extensions["store"], actor=Actor("parent", world.parent.id))
    db.commit()
    confirmation = hand_in(app, db, world, student, world.parent.id)
    review.approve_confirmation(db, confirmation, actor=Actor("staff", world.teacher.id))
    db.commit()
    return {c.field_key: c for c in confirmation.corrections}


def _pass_on(app, world, opinion: str = "经核对户口簿，情况属实", field: str = "ethnicity"):
    admin = logged_in(app, world.admin.username)
    response = admin.post(f"/admin/key-data/students/{world.students_a[0].id}/approve",
                          data={"field_key": field, "opinion": opinion})
    assert response.status_code == 302
    return admin


@pytest.fixture
def at_district(app, db, world, at_admin):
    _pass_on(app, world)
    db.expire_all()
    return db.get(FieldCorrection, at_admin["ethnicity"].id)


def test_the_admins_approval_passes_the_change_to_the_district_with_the_opinion(app, db, world, at_admin, outbox):
    admin = _pass_on(app, world)
    db.expire_all()
    correction = db.get(FieldCorrection, at_admin["ethnicity"].id)
    assert correction.status == "pending_district" and correction.school_opinion == "经核对户口簿，情况属实"
    assert db.get(Student, world.students_a[0].id).value("ethnicity") == "01"  # not yet in the record
    assert outbox == []  # the family hears of the outcome, not of the step
    assert "已报送，待主管部门核办" in admin.get("/admin/key-data").get_data(as_text=True)
    parent_page = logged_in(app, world.parent.phone).get(f"/parent/students/{world.students_a[0].id}")
    assert "待主管部门核办" in parent_page.get_data(as_text=True)
    assert db.scalar(select(AuditEvent.action).where(AuditEvent.action == "key_correction.passed_to_district"))


def test_the_supervisor_sees_old_and_new_values_the_proof_and_the_opinion(app, world, at_district):
    client = logged_in(app, "sup_a")
    queue = client.get("/district/key-data").get_data(as_text=True)
    assert world.school.name in queue and "民族" in queue and world.students_a[0].name not in queue
    case = client.get(f"/district/key-data/{at_district.id}").get_data(as_text=True)
    assert world.students_a[0].name in case and "<del>汉族</del> → <ins>苗族</ins>" in case
    assert "经核对户口簿，情况属实" in case and "?size=thumb" in case
    proof = proofs.proofs_of(Session(app.extensions["db_engine"]), at_district.confirmation)[0]
    assert client.get(f"/files/{proof.id}").status_code in (200, 302)
    assert logged_in(app, "sup_other").get(f"/district/key-data/{at_district.id}").status_code == 404
    assert logged_in(app, "sup_other").get(f"/files/{proof.id}").status_code == 404


def test_district_approval_updates_the_record_and_everyone_sees_it(app, db, world, at_district, outbox):
    client = logged_in(app, "sup_a")
    response = client.post(f"/district/key-data/{at_district.id}/approve")
    assert response.status_code == 302
    db.expire_all()
    correction = db.get(FieldCorrection, at_district.id)
    supervisor = db.scalar(select(StaffUser).where(StaffUser.username == "sup_a"))
    assert (correction.status, correction.district_decided_by_id) == ("applied", supervisor.id)
    assert db.get(Student, world.students_a[0].id).value("ethnicity") == "06"
    assert [phone for phone, _t in outbox] == [world.parent.phone] and "主管部门" in outbox[0][1]
    assert world.students_a[0].id_number not in outbox[0][1]
    assert db.scalar(select(AuditEvent.actor_id).where(
        AuditEvent.action == "key_correction.district_applied")) == supervisor.id
    assert "已生效" in logged_in(app, world.parent.phone).get(
        f"/parent/students/{world.students_a[0].id}").get_data(as_text=True)
    assert "已生效" in logged_in(app, world.teacher.username).get(
        f"/teacher/students/{world.students_a[0].id}").get_data(as_text=True)
    assert "已核准，学籍已更新" in logged_in(app, world.admin.username).get("/admin/key-data").get_data(as_text=True)
    # the case is closed: the supervisor no longer sees the student's data
    assert client.get(f"/district/key-data/{at_district.id}").status_code == 404
    assert "核办记录" in client.get("/district/key-data").get_data(as_text=True)


def test_a_double_tap_approves_once(app, db, world, at_district, outbox):
    client = logged_in(app, "sup_a")
    first = client.post(f"/district/key-data/{at_district.id}/approve")
    second = client.post(f"/district/key-data/{at_district.id}/approve", follow_redirects=True)
    assert first.status_code == 302 and second.status_code == 200
    assert "已经由其他人核办过了" in second.get_data(as_text=True)
    assert len(outbox) == 1
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "key_correction.district_applied")) == 1


def test_two_supervisors_racing_one_wins_the_other_is_told(app, db, world, at_district):
    engine = app.extensions["db_engine"]
    with Session(engine) as first, Session(engine) as second:
        mine = first.get(FieldCorrection, at_district.id)
        theirs = second.get(FieldCorrection, at_district.id)
        assert mine.status == theirs.status == "pending_district"  # both read it open
        sup_a = first.scalar(select(StaffUser).where(StaffUser.username == "sup_a"))
        sup_b = second.scalar(select(StaffUser).where(StaffUser.username == "sup_b"))
        second.rollback()  # nothing held while the other decides (SQLite has one writer)
        keydata.district_approve(first, mine, supervisor=sup_a, actor=Actor("staff", sup_a.id))
        first.commit()
        theirs = second.get(FieldCorrection, at_district.id)
        second.expire_all()
        with pytest.raises(InvalidTransition) as refused:
            keydata.district_reject(second, theirs, "材料不符", supervisor=sup_b, actor=Actor("staff", sup_b.id))
        assert "已经由其他人核办过了" in str(refused.value.message)
        second.rollback()
    db.expire_all()
    assert db.get(FieldCorrection, at_district.id).status == "applied"
    assert db.get(Student, world.students_a[0].id).value("ethnicity") == "06"


def test_a_stale_read_cannot_decide_twice(app, db, world, at_district):
    """The decision is a conditional UPDATE: an object loaded before the other decision still loses."""
    engine = app.extensions["db_engine"]
    with Session(engine) as first, Session(engine) as second:
        sup_a = first.scalar(select(StaffUser).where(StaffUser.username == "sup_a"))
        sup_b = second.scalar(select(StaffUser).where(StaffUser.username == "sup_b"))
        stale = second.get(FieldCorrection, at_district.id)
        _student = stale.confirmation.student  # loaded while open
        second.commit()
        keydata.district_approve(first, first.get(FieldCorrection, at_district.id), supervisor=sup_a,
                                 actor=Actor("staff", sup_a.id))
        first.commit()
        with pytest.raises(InvalidTransition):
            keydata.district_approve(second, stale, supervisor=sup_b, actor=Actor("staff", sup_b.id))
        second.rollback()
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "key_correction.district_applied")) == 1


def test_a_rejection_without_a_reason_is_refused_and_with_one_the_family_reads_it(app, db, world, at_district,
                                                                                  outbox):
    client = logged_in(app, "sup_a")
    refused = client.post(f"/district/key-data/{at_district.id}/reject", data={"reason": "   "})
    assert refused.status_code == 400 and "请填写不通过的原因" in refused.get_data(as_text=True)
    db.expire_all()
    assert db.get(FieldCorrection, at_district.id).status == "pending_district" and outbox == []
    assert client.post(f"/district/key-data/{at_district.id}/reject",
                       data={"reason": "户口簿上仍为汉族"}).status_code == 302
    db.expire_all()
    correction = db.get(FieldCorrection, at_district.id)
    assert (correction.status, correction.decision_reason) == ("rejected", "户口簿上仍为汉族")
    assert db.get(Student, world.students_a[0].id).value("ethnicity") == "01"
    assert len(outbox) == 1 and "未通过主管部门审核" in outbox[0][1]
    page = logged_in(app, world.parent.phone).get(f"/parent/students/{world.students_a[0].id}").get_data(as_text=True)
    assert "户口簿上仍为汉族" in page
    admin_page = logged_in(app, world.admin.username).get("/admin/key-data").get_data(as_text=True)
    assert "未通过" in admin_page and "户口簿上仍为汉族" in admin_page
    assert db.scalar(select(AuditEvent.detail).where(AuditEvent.action == "key_correction.district_rejected"))[
        "reason"] == "户口簿上仍为汉族"


def test_without_a_district_the_school_cannot_pass_the_change_on(app, db, world, at_admin):
    from confirm.models import School, SchoolDistrictMembership

    db.query(SchoolDistrictMembership).delete()
    db.get(School, world.school.id).district_id = None
    db.commit()
    admin = logged_in(app, world.admin.username)
    answer = admin.post(f"/admin/key-data/students/{world.students_a[0].id}/approve",
                        data={"field_key": "ethnicity"}, follow_redirects=True)
    assert "本校还没有归属主管部门" in answer.get_data(as_text=True)
    db.expire_all()
    assert db.get(FieldCorrection, at_admin["ethnicity"].id).status == "pending_admin"


def test_a_campaign_that_ends_at_the_school_applies_at_once(app, db, world, at_admin):
    db.get(Campaign, world.campaign.id).key_data_needs_district = False
    db.commit()
    _pass_on(app, world)
    db.expire_all()
    assert db.get(FieldCorrection, at_admin["ethnicity"].id).status == "applied"


def _rows(response) -> list[tuple]:
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [tuple(r) for r in workbook["关键数据变更清单"].iter_rows(values_only=True)]
    workbook.close()
    return rows


def test_change_lists_follow_the_national_order_of_fields(app, db, world, district, at_admin):
    student = world.students_a[0]
    old_name, id_number = student.name, student.id_number
    _pass_on(app, world, field="ethnicity")
    _pass_on(app, world, opinion="与户口簿一致", field="name")
    db.expire_all()
    client = logged_in(app, "sup_a")
    name_case = db.get(FieldCorrection, at_admin["name"].id)
    assert client.post(f"/district/key-data/{name_case.id}/approve").status_code == 302
    district_rows = _rows(client.get("/district/key-data/export.xlsx"))
    assert district_rows[0] == HEADERS
    # 姓名 (KD 2) before 民族 (KD 7); the student as the national system still knows them: the old name
    assert [(r[4], r[5], r[6], r[7], r[8]) for r in district_rows[1:]] == [
        (old_name, id_number, "姓名", old_name, "王新名"),
        (old_name, id_number, "民族", "汉族", "苗族")]
    assert [r[16] for r in district_rows[1:]] == ["已生效", "待主管部门核办"]
    assert district_rows[1][10] == "与户口簿一致" and district_rows[1][13] == district.name
    school_rows = _rows(logged_in(app, world.admin.username).get("/admin/key-data/export.xlsx"))
    assert [r[6] for r in school_rows[1:]] == ["姓名", "民族"] and school_rows[1][0] == world.school.code
    assert _rows(logged_in(app, "sup_other").get("/district/key-data/export.xlsx")) == [HEADERS]


def _passed_to(db, district, school, n: int) -> None:
    """``n`` students of ``school``, each with two key-data changes passed on to ``district``."""
    campaign = make_campaign(db, school)
    school_class = make_class(db, school)
    for _ in range(n):
        confirmation = records.ensure_confirmation(db, campaign, make_student(db, school_class))
        for key, old, new in (("ethnicity", "01", "06"), ("gender", "1", "2")):
            db.add(FieldCorrection(confirmation_id=confirmation.id, slot=0, field_key=key, old_value=old,
                                   new_value=new, is_key_data=True, requested_by_kind="parent", requested_by_id=0,
                                   status="pending_district", school_passed_at=utcnow(), district_id=district.id))
    db.commit()


def test_the_district_list_asks_for_a_recent_password_then_is_audited_once_per_school(
        app, db, world, district, at_district, six_minutes_pass):
    second = make_school(db, name="第二小学")
    _passed_to(db, district, second, 2)
    supervisor = db.scalar(select(StaffUser).where(StaffUser.username == "sup_a"))
    client = logged_in(app, "sup_a")
    six_minutes_pass()
    path = "/district/key-data/export.xlsx"

    def exported() -> list[AuditEvent]:
        db.expire_all()
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "export.key_data")))

    refused = client.get(path)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/account/confirm")
    assert exported() == []

    back = client.post(refused.headers["Location"], data={"password": PASSWORD})
    assert back.headers["Location"] == path
    assert len(_rows(client.get(path))) == 1 + 1 + 4  # the header, world.school's one change, the second school's
    rows = exported()
    assert {r.school_id: r.detail["students"] for r in rows} == {world.school.id: 1, second.id: 2}
    assert len(rows) == 2 and {(r.actor_kind, r.actor_id, r.detail["district_id"]) for r in rows} == {
        ("staff", supervisor.id, district.id)}


@pytest.mark.postgres
def test_two_supervisors_at_the_same_moment_one_decides_the_other_waits_and_is_told(app, db, world, at_district):
    """On PostgreSQL, truly at once: the second UPDATE waits for the first transaction's row lock, then finds the
    case decided."""
    import threading

    from tests.conftest import _is_postgres

    if not _is_postgres():
        pytest.skip("row locks between two connections need PostgreSQL (run with TEST_DATABASE_URL)")
    engine = app.extensions["db_engine"]
    claimed, outcome = threading.Event(), {}

    def second_supervisor():
        with Session(engine) as s:
            sup_b = s.scalar(select(StaffUser).where(StaffUser.username == "sup_b"))
            case = s.get(FieldCorrection, at_district.id)
            _student = case.confirmation.student
            claimed.wait(5)
            try:
                keydata.district_reject(s, case, "材料不符", supervisor=sup_b, actor=Actor("staff", sup_b.id))
                s.commit()
                outcome["b"] = "decided"
            except InvalidTransition as exc:
                s.rollback()
                outcome["b"] = str(exc.message)

    with Session(engine) as first:
        sup_a = first.scalar(select(StaffUser).where(StaffUser.username == "sup_a"))
        other = threading.Thread(target=second_supervisor)
        other.start()
        keydata.district_approve(first, first.get(FieldCorrection, at_district.id), supervisor=sup_a,
                                 actor=Actor("staff", sup_a.id))
        claimed.set()  # the second now runs into this transaction's row lock
        other.join(0.5)
        assert other.is_alive()  # waiting, not deciding
        first.commit()
    other.join(10)
    assert "已经由其他人核办过了" in outcome["b"]
    db.expire_all()
    assert db.get(FieldCorrection, at_district.id).status == "applied"
