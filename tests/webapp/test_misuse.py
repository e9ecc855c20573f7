"""Misuse detection on the web: locked codes and accounts, clear messages, flags the head teacher resolves."""

from __future__ import annotations

from sqlalchemy import select

from confirm.models import AuditEvent, MisuseFlag
from confirm.services import misuse
from confirm.services.limits import CODE_TRIES, LOGIN_FROM_ADDRESS
from tests.factories import PASSWORD


def _register(client, code, name, phone="13812345678"):
    return client.post("/register", data={"consent": "y", "code": code, "student_name": name, "phone": phone})


def test_guessing_names_with_a_valid_code_locks_it_and_flags_it_for_the_class(client, world, db, issue, auth):
    student = world.students_a[1]
    code = issue(student)
    for _ in range(CODE_TRIES.most):
        assert "注册码或学生姓名不正确" in _register(client, code, "猜的名字").get_data(as_text=True)
    locked = _register(client, code, student.name)
    assert "已暂时锁定 1 小时" in locked.get_data(as_text=True)
    db.commit()
    assert db.scalar(select(MisuseFlag.kind)) == misuse.CODE_FAILURES

    auth.login(world.teacher.username, PASSWORD)
    class_page = client.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    assert "异常提醒 (1)" in class_page
    flags = client.get(f"/teacher/classes/{world.class_a.id}/flags").get_data(as_text=True)
    assert student.name in flags and "注册码多次输入错误" in flags
    assert client.get(f"/teacher/classes/{world.class_b.id}/flags").status_code == 404


def test_teacher_resolves_a_flag_and_it_is_audited(client, world, db, auth):
    flag = misuse.raise_flag(db, misuse.LOGIN_BURST, db.merge(world.parent), school_id=world.school.id,
                             class_ids=[world.class_a.id], detail={"platform_no": world.parent.platform_no})
    db.commit()
    auth.login(world.other_teacher.username, PASSWORD)
    refused = client.post(f"/teacher/classes/{world.class_b.id}/flags/resolve", data={"flag_id": flag.id})
    assert refused.status_code == 404  # not a flag of the other teacher's class
    auth.logout()
    auth.login(world.teacher.username, PASSWORD)
    response = client.post(f"/teacher/classes/{world.class_a.id}/flags/resolve", data={"flag_id": flag.id})
    assert response.status_code == 302
    db.refresh(flag)
    assert flag.resolved_at is not None and flag.resolved_by_id == world.teacher.id
    assert "misuse.resolved" in db.scalars(select(AuditEvent.action)).all()


def test_a_burst_of_failed_logins_pauses_the_address_with_a_clear_message(client, world, db):
    for _ in range(LOGIN_FROM_ADDRESS.most):
        wrong = client.post("/login", data={"login": world.parent.platform_no, "password": "not-it"})
        assert "账号或密码不正确" in wrong.get_data(as_text=True)
    paused = client.post("/login", data={"login": world.parent.phone, "password": PASSWORD})
    assert paused.status_code == 200 and "登录尝试次数过多" in paused.get_data(as_text=True)
    assert "忘记密码" in paused.get_data(as_text=True)
    db.commit()
    assert "login.refused_throttled" in db.scalars(select(AuditEvent.action)).all()
    assert db.scalar(select(MisuseFlag.kind)) == misuse.LOGIN_BURST


def test_unknown_logins_are_paused_alike_but_never_flagged(client, world, db):
    for _ in range(LOGIN_FROM_ADDRESS.most):
        response = client.post("/login", data={"login": "13899990000", "password": "not-it"})
        assert "账号或密码不正确" in response.get_data(as_text=True)
    paused = client.post("/login", data={"login": "13899990000", "password": "not-it"})
    assert "登录尝试次数过多" in paused.get_data(as_text=True)
    db.commit()
    assert db.scalar(select(MisuseFlag.id)) is None


def test_unrelated_families_flag_shows_each_teacher_only_their_own_pupils_names(client, world, db, auth):
    from tests.factories import make_parent, make_student

    third = make_student(db, world.class_a, name="钱小明")
    third.members[0].record = {**third.members[0].record, "name": "钱大明", "phone": "13600000077"}
    account = make_parent(db, world.students_a[1], world.students_b[1], third, phone="13600000099")
    db.commit()
    misuse.check_phone_spread(db, account)
    db.commit()
    auth.login(world.teacher.username, PASSWORD)
    page = client.get(f"/teacher/classes/{world.class_a.id}/flags").get_data(as_text=True)
    assert world.students_a[1].name in page and "钱小明" in page
    assert world.students_b[1].name not in page
    assert "1 名其他班级的学生" in page
