"""Districts and supervisors are set up from the command line: a county, its schools, its supervisor."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from confirm.models import District, School, SchoolDistrictMembership, StaffUser


def _school(runner, code: str) -> None:
    assert runner.invoke(args=["create-school", "--code", code, "--name", f"学校{code[-2:]}"]).exit_code == 0


def test_create_district_school_and_supervisor_who_can_log_in(runner, db, auth):
    _school(runner, "5200000011")
    result = runner.invoke(args=["create-district", "--code", "520325", "--name", "道真县教育局"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["create-district", "--code", "520325-01", "--name", "玉溪镇中心校",
                                 "--kind", "central_school", "--parent", "520325"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["add-school-to-district", "--school", "5200000011", "--district", "520325-01",
                                 "--from", "2026-09-01"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["create-supervisor", "--district", "520325", "--username", "daozhen.sup",
                                 "--name", "赵老师", "--password", "a-long-password-1"])
    assert result.exit_code == 0, result.output

    county, township = (db.scalar(select(District).where(District.code == c)) for c in ("520325", "520325-01"))
    assert township.parent_id == county.id and township.kind == "central_school"
    school = db.scalar(select(School).where(School.code == "5200000011"))
    assert school.district_id == township.id
    supervisor = db.scalar(select(StaffUser).where(StaffUser.username == "daozhen.sup"))
    assert (supervisor.role, supervisor.school_id, supervisor.district_id) == ("supervisor", None, county.id)
    assert supervisor.must_change_password
    response = auth.login("daozhen.sup", "a-long-password-1")
    assert response.status_code == 302
    first = auth.client.get(response.headers["Location"])  # a new account chooses its password before anything
    assert first.status_code == 302 and first.headers["Location"].endswith("/account/password")


def test_moving_a_school_keeps_the_old_membership(runner, db):
    _school(runner, "5200000012")
    for code in ("A1", "B1"):
        assert runner.invoke(args=["create-district", "--code", code, "--name", f"{code}县教育局"]).exit_code == 0
    assert runner.invoke(args=["add-school-to-district", "--school", "5200000012", "--district", "A1",
                               "--from", "2026-09-01"]).exit_code == 0
    moved = runner.invoke(args=["add-school-to-district", "--school", "5200000012", "--district", "B1",
                                "--from", "2026-10-15"])
    assert moved.exit_code == 0, moved.output
    again = runner.invoke(args=["add-school-to-district", "--school", "5200000012", "--district", "B1",
                                "--from", "2026-10-20"])
    assert again.exit_code == 0  # already there: nothing changes
    rows = db.scalars(select(SchoolDistrictMembership).order_by(SchoolDistrictMembership.id)).all()
    assert [(r.from_date, r.to_date) for r in rows] == [(date(2026, 9, 1), date(2026, 10, 15)),
                                                        (date(2026, 10, 15), None)]
    assert db.scalar(select(School.district_id)) == rows[1].district_id


def test_bad_district_input_is_refused_with_a_message(runner, db):
    result = runner.invoke(args=["create-district", "--code", "x", "--name", "某县"])
    assert result.exit_code != 0 and "机构代码" in result.output
    assert runner.invoke(args=["create-district", "--code", "C1", "--name", "某县"]).exit_code == 0
    again = runner.invoke(args=["create-district", "--code", "C1", "--name", "某县"])
    assert again.exit_code != 0 and "已经存在" in again.output
    unknown = runner.invoke(args=["create-supervisor", "--district", "NOPE", "--username", "sup1", "--name", "x",
                                  "--password", "a-long-password-1"])
    assert unknown.exit_code != 0 and "create-district" in unknown.output
    short = runner.invoke(args=["create-supervisor", "--district", "C1", "--username", "sup1", "--name", "x",
                                "--password", "short"])
    assert short.exit_code != 0 and "密码至少" in short.output
    early = runner.invoke(args=["add-school-to-district", "--school", "5299999999", "--district", "C1"])
    assert early.exit_code != 0 and "create-school" in early.output
    assert db.scalar(select(StaffUser)) is None
    assert len(db.scalars(select(District)).all()) == 1
