"""A production install starts from the command line: a school, then its first admin."""

from __future__ import annotations

from sqlalchemy import select

from confirm.models import School, StaffUser


def test_create_school_then_admin_who_can_log_in(runner, db, auth):
    result = runner.invoke(args=["create-school", "--code", "5200000002", "--name", "某某市第一小学"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["create-admin", "--school", "5200000002", "--username", "wang.admin",
                                 "--name", "王老师", "--password", "a-long-password-1"])
    assert result.exit_code == 0, result.output
    admin = db.scalar(select(StaffUser).where(StaffUser.username == "wang.admin"))
    assert admin.role == "school_admin"
    assert admin.school_id == db.scalar(select(School.id).where(School.code == "5200000002"))
    response = auth.login("wang.admin", "a-long-password-1")
    assert response.headers["Location"].endswith("/admin/")


def test_bad_school_code_and_duplicate_are_refused(runner, db):
    assert runner.invoke(args=["create-school", "--code", "12345", "--name", "x"]).exit_code != 0
    assert runner.invoke(args=["create-school", "--code", "5200000002", "--name", "x"]).exit_code == 0
    again = runner.invoke(args=["create-school", "--code", "5200000002", "--name", "y"])
    assert again.exit_code != 0 and "已经存在" in again.output
    assert db.scalars(select(School)).all().__len__() == 1


def test_admin_for_unknown_school_or_all_digit_username_is_refused(runner, db):
    result = runner.invoke(args=["create-admin", "--school", "5299999999", "--username", "x1",
                                 "--name", "x", "--password", "a-long-password-1"])
    assert result.exit_code != 0 and "create-school" in result.output
    runner.invoke(args=["create-school", "--code", "5200000002", "--name", "x"])
    result = runner.invoke(args=["create-admin", "--school", "5200000002", "--username", "20261234",
                                 "--name", "x", "--password", "a-long-password-1"])
    assert result.exit_code != 0 and "至少包含一个字母" in result.output
    assert db.scalar(select(StaffUser)) is None
