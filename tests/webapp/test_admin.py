"""The school admin (学籍管理员): the whole school's progress, classes, head-teacher accounts, campaigns."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from confirm.clock import local_today
from confirm.models import Campaign, SchoolClass, StaffUser
from tests.factories import PASSWORD, make_class


@pytest.fixture
def admin(client, world, auth):
    """The client, logged in as the school's admin."""
    assert auth.login(world.admin.username, PASSWORD).status_code == 302
    return client


def class_rows(page: str) -> dict[str, list[int]]:
    """Class title → its counts per stage (unregistered, open, submitted, returned, approved) and the total."""
    rows = re.findall(r'<a href="/teacher/classes/\d+">([^<]+)</a></td>(.*?)</tr>', page, flags=re.S)
    return {title: [int(n) for n in re.findall(r'<td>(\d+)<small>', cells)]
            + [int(re.search(r'<td>(\d+)</td><td class="rate">', cells)[1])] for title, cells in rows}


def class_count(db) -> int:
    return db.scalar(select(func.count()).select_from(SchoolClass))


def test_school_page_shows_every_class_of_the_school_with_its_counts(admin, world, db):
    make_class(db, world.other_school, name="9班")
    db.commit()
    response = admin.get("/admin/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # a count for each stage, then the total
    assert class_rows(page) == {"三年级 1班": [2, 1, 0, 0, 0, 0, 3], "三年级 2班": [1, 1, 0, 0, 0, 0, 2]}
    assert world.school.name in page and world.campaign.name in page
    assert "已通过 0 / 5" in page  # the whole school's progress
    assert world.teacher.display_name in page  # each class's head teacher


def test_login_takes_the_admin_to_the_school_page(client, world, auth):
    response = auth.login(world.admin.username, PASSWORD)
    assert response.headers["Location"].endswith("/admin/")


def test_admin_creates_a_class_with_its_head_teacher(admin, world, db):
    response = admin.post("/admin/classes", data={"grade": "四年级", "name": "3班",
                                                  "head_teacher_id": str(world.teacher.id)})
    assert response.status_code == 302
    created = db.scalar(select(SchoolClass).where(SchoolClass.grade == "四年级"))
    assert (created.name, created.school_id, created.head_teacher_id) == ("3班", world.school.id, world.teacher.id)
    page = admin.get("/admin/").get_data(as_text=True)
    assert "已创建班级 四年级 3班" in page
    assert class_rows(page)["四年级 3班"] == [0, 0, 0, 0, 0, 0, 0]


def test_duplicate_class_is_refused_with_a_message(admin, world, db):
    before = class_count(db)
    response = admin.post("/admin/classes", data={"grade": "三年级", "name": "1班", "head_teacher_id": ""})
    assert response.status_code == 400
    assert "本校已有这个班级" in response.get_data(as_text=True)
    assert class_count(db) == before


def test_class_without_grade_is_refused(admin, world, db):
    before = class_count(db)
    response = admin.post("/admin/classes", data={"grade": " ", "name": "5班", "head_teacher_id": ""})
    assert response.status_code == 400
    assert "请填写年级" in response.get_data(as_text=True)
    assert class_count(db) == before


def test_head_teacher_of_another_school_cannot_be_assigned(admin, world, db):
    response = admin.post("/admin/classes", data={"grade": "四年级", "name": "3班",
                                                  "head_teacher_id": str(world.other_admin.id)})
    assert response.status_code == 400
    assert "请选择本校的班主任" in response.get_data(as_text=True)
    assert db.scalar(select(SchoolClass).where(SchoolClass.grade == "四年级")) is None


def test_admin_creates_a_head_teacher_who_can_log_in(app, admin, world, db):
    response = admin.post("/admin/staff", data={"display_name": "班主任 赵老师", "username": "zhao.t",
                                                "phone": "13900009999", "password": "initial-pass-1"})
    assert response.status_code == 302
    user = db.scalar(select(StaffUser).where(StaffUser.username == "zhao.t"))
    assert (user.role, user.school_id, user.display_name) == ("head_teacher", world.school.id, "班主任 赵老师")
    assert "initial-pass-1" not in user.password_hash
    fresh = app.test_client()
    login = fresh.post("/login", data={"login": "zhao.t", "password": "initial-pass-1"})
    assert login.status_code == 302 and login.headers["Location"].endswith("/teacher/")


@pytest.mark.parametrize(("data", "message"), [
    ({"username": "zhao laoshi!"}, "用户名为 3–64 位字母、数字、下划线、点或短横线"),
    ({"username": "teacher_a"}, "用户名已被使用"),
    ({"password": "short"}, "密码至少 8 位"),
])
def test_bad_head_teacher_account_is_refused(admin, world, db, data, message):
    before = db.scalar(select(func.count()).select_from(StaffUser))
    form = {"display_name": "班主任 赵老师", "username": "zhao.t", "phone": "", "password": "initial-pass-1", **data}
    response = admin.post("/admin/staff", data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(StaffUser)) == before


def test_admin_starts_a_campaign_which_closes_the_previous_one(admin, world, db):
    deadline = local_today() + timedelta(days=20)
    response = admin.post("/admin/campaign", data={"name": "2027年春季核查", "deadline": deadline.isoformat()})
    assert response.status_code == 302
    db.expire_all()
    active = db.scalars(select(Campaign).where(Campaign.school_id == world.school.id, Campaign.is_active)).all()
    assert [(c.name, c.deadline) for c in active] == [("2027年春季核查", deadline)]
    assert "2027年春季核查" in admin.get("/admin/").get_data(as_text=True)


def test_campaign_with_a_deadline_in_the_past_is_refused(admin, world, db):
    past = local_today() - timedelta(days=2)
    response = admin.post("/admin/campaign", data={"name": "补查", "deadline": past.isoformat()})
    assert response.status_code == 400
    assert "截止日期不能早于今天" in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalars(select(Campaign.name).where(Campaign.is_active,
                                                  Campaign.school_id == world.school.id)).all() == [world.campaign.name]


def test_head_teacher_gets_403_everywhere_in_the_admin_area(client, world, auth, db):
    auth.login(world.teacher.username, PASSWORD)
    before = class_count(db)
    form = {"grade": "四年级", "name": "9班", "deadline": "2099-01-01", "username": "sneaky", "display_name": "x",
            "password": "x" * 10}
    for method, path in (("get", "/admin/"), ("post", "/admin/classes"), ("post", "/admin/staff"),
                         ("post", "/admin/campaign")):
        response = getattr(client, method)(path, data=form)
        assert response.status_code == 403, path
        assert "没有权限" in response.get_data(as_text=True)
    assert class_count(db) == before
    assert db.scalar(select(StaffUser).where(StaffUser.username == "sneaky")) is None


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_sees_only_their_own_school(client, world, auth):
    auth.login(world.other_admin.username, PASSWORD)
    page = client.get("/admin/").get_data(as_text=True)
    assert class_rows(page) == {}
    assert "还没有班级" in page
    assert client.get(f"/teacher/classes/{world.class_a.id}").status_code == 404


def test_admin_sets_a_head_teachers_phone_which_must_be_verified_again(admin, world, db):
    response = admin.post("/admin/staff/phone", data={"staff_id": world.teacher.id, "phone": "137 1234 5678"})
    assert response.status_code == 302
    db.expire_all()
    teacher = db.get(type(world.teacher), world.teacher.id)
    assert teacher.phone == "13712345678" and teacher.phone_verified_at is None


def test_bad_phone_for_a_head_teacher_is_refused(admin, world, db):
    response = admin.post("/admin/staff/phone", data={"staff_id": world.teacher.id, "phone": "0851-1234567"},
                          follow_redirects=True)
    assert "请输入正确的 11 位手机号码" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(type(world.teacher), world.teacher.id).phone is None
