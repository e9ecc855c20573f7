"""Synthetic demo data: one school, two classes, 40 students with valid-checksum fake ID numbers.

Every name, ID number and phone here is invented. The ID numbers pass the GB 11643 check so that
the validators treat them like real ones; the phones use the unassigned-looking 1390000xxxx range.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.clock import local_today
from confirm.districts import DistrictKind
from confirm.models import Campaign, District, Guardianship, ParentAccount, School, SchoolClass, StaffUser, Student
from confirm.roles import Role
from confirm.security import hash_password, new_nonce
from confirm.services.common import SYSTEM
from confirm.services.records import active_campaign
from confirm.services.registration import issue_code
from confirm.services.school import add_student, create_campaign
from confirm.validation import make_resident_id

SCHOOL_CODE = "5200000001"
SCHOOL_NAME = "演示市第一实验小学"
ADMIN = ("admin", "学籍管理员 王老师", "demo-admin-2026")
TEACHERS = (("teacher1", "班主任 李老师", "demo-teacher-2026"), ("teacher2", "班主任 张老师", "demo-teacher-2026"))
PARENT_PHONE = "13900000001"
PARENT_PASSWORD = "demo-parent-2026"
PARENT_PLATFORM_NO = "80000001"
DISTRICT_CODE = "DEMO-COUNTY"
DISTRICT_NAME = "演示县教育局"
SUPERVISOR = ("supervisor", "演示县教育局 赵老师", "demo-supervisor-2026")
# The district's other two schools: small, each with its admin, one class and a running campaign.
# (code, name, admin, days to the deadline): one school near its deadline, one past it (listed first).
OTHER_SCHOOLS = (("5200000002", "演示县第二小学", "admin2", 2), ("5200000003", "演示县第三小学", "admin3", -3))
OTHER_SCHOOL_STUDENTS = 8

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["子涵", "欣怡", "浩然", "梓萱", "宇轩", "思彤", "俊杰", "雨桐", "一诺", "明轩", "诗涵", "博文",
          "佳怡", "子墨", "若汐", "天佑", "可馨", "皓轩", "语嫣", "嘉懿"]
_DIVISIONS = ("520102", "520103", "520111", "520112", "520113")  # 贵阳市辖区
_STREETS = ("中华北路", "遵义路", "瑞金南路", "宝山北路", "花溪大道", "甲秀南路")


def _student_values(rng: random.Random, index: int, enroll_year: int) -> tuple[dict, dict]:
    gender = "1" if index % 2 else "2"
    name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
    birth = date(enroll_year - 6, 1, 1) + timedelta(days=rng.randrange(365))
    division = rng.choice(_DIVISIONS)
    id_number = make_resident_id(division, birth, 100 + index, gender)
    address = f"贵州省贵阳市{rng.choice(_STREETS)}{rng.randrange(1, 300)}号"
    phone = f"1390000{1000 + index:04d}"
    values = {
        "name": name, "gender": gender, "birth_date": f"{birth:%Y%m%d}", "birthplace_code": division + "000000",
        "native_place": "贵州省贵阳市", "ethnicity": rng.choice(["01", "01", "01", "06", "09"]),
        "nationality": "CHN", "id_type": "1", "id_number": id_number, "hmtoc": "00", "health": "10",
        "hukou_place_code": division + "000000", "hukou_type": rng.choice(["1", "2"]),
        "enroll_ym": f"{enroll_year}09", "enroll_mode": "11", "attend_mode": "1", "student_source": "1",
        "current_address": address, "mailing_address": address, "home_address": address,
        "phone": phone, "postcode": "550001", "only_child": rng.choice(["0", "1"]), "preschool": "1",
        "left_behind": "0", "migrant_child": "0", "orphan": "0", "martyr_child": "0", "needs_aid": "0",
        "one_subsidy": "0", "commute_mode": "4",
    }
    surname = name[0]
    father_birth = date(enroll_year - 36, 5, 1) + timedelta(days=rng.randrange(2000))
    members = {
        1: {"name": surname + rng.choice(["建国", "志强", "伟", "勇"]), "relation": "1", "current_address": address,
            "hukou_place_code": division + "000000", "phone": phone, "is_guardian": "1", "id_type": "1",
            "id_number": make_resident_id(division, father_birth, 200 + index, "1"), "ethnicity": "01"},
        2: {"name": rng.choice(_SURNAMES) + rng.choice(["秀英", "丽", "敏", "静"]), "relation": "2",
            "current_address": address, "hukou_place_code": division + "000000",
            "phone": f"1390000{3000 + index:04d}", "is_guardian": "1", "ethnicity": "01"},
    }
    return values, members


def _staff(session: Session, school: School | None, username: str, display: str, password: str, role: str,
           district: District | None = None) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        user = StaffUser(school_id=school.id if school else None, district_id=district.id if district else None,
                         username=username, display_name=display, role=role,
                         phone="1390000" + str(9000 + len(username)), password_hash=hash_password(password),
                         session_nonce=new_nonce(), is_active=True)
        session.add(user)
        session.flush()
    return user


def load_demo(session: Session, *, key: bytes, today: date | None = None) -> str:
    """Create the demo school if it is missing and return a printable summary with fresh codes."""
    today = today or local_today()
    rng = random.Random(20261129)
    school = session.scalar(select(School).where(School.code == SCHOOL_CODE))
    if school is None:
        school = School(code=SCHOOL_CODE, name=SCHOOL_NAME)
        session.add(school)
        session.flush()
    _staff(session, school, *ADMIN, role=Role.SCHOOL_ADMIN)
    teachers = [_staff(session, school, u, d, p, Role.HEAD_TEACHER) for u, d, p in TEACHERS]
    if active_campaign(session, school.id) is None:
        create_campaign(session, school, name=f"{today.year}年秋季学籍信息核查",
                        deadline=today + timedelta(days=30), actor=SYSTEM, today=today)
    enroll_year = today.year - 3 if today.month >= 9 else today.year - 4
    for number, teacher in enumerate(teachers, start=1):
        name = f"{number}班"
        school_class = session.scalar(
            select(SchoolClass).where(SchoolClass.school_id == school.id, SchoolClass.name == name)
        )
        if school_class is None:
            school_class = SchoolClass(school_id=school.id, grade="三年级", name=name, class_code=f"3{number:02d}",
                                       head_teacher_id=teacher.id)
            session.add(school_class)
            session.flush()
            for i in range(20):
                values, members = _student_values(rng, (number - 1) * 20 + i, enroll_year)
                add_student(session, school, school_class, values, members)
    parent = session.scalar(select(ParentAccount).where(ParentAccount.phone == PARENT_PHONE))
    if parent is None:
        parent = ParentAccount(phone=PARENT_PHONE, platform_no=PARENT_PLATFORM_NO,
                               password_hash=hash_password(PARENT_PASSWORD), session_nonce=new_nonce())
        session.add(parent)
        session.flush()
        firsts = session.scalars(
            select(Student).where(Student.school_id == school.id).order_by(Student.class_id, Student.id)
        ).all()
        for child in (firsts[0], firsts[20]):  # one child in each class: shows switching between children
            session.add(Guardianship(parent_id=parent.id, student_id=child.id))
    session.flush()
    linked = select(Guardianship.student_id)
    unregistered = session.scalars(
        select(Student).where(Student.school_id == school.id, Student.id.not_in(linked)).order_by(Student.id).limit(5)
    ).all()
    slips = [(s, issue_code(session, s, key=key, actor=SYSTEM)) for s in unregistered]
    _load_district(session, school, rng, today, enroll_year)
    lines = [
        f"演示学校 {SCHOOL_NAME}（学校标识码 {SCHOOL_CODE}）已就绪 / demo school ready",
        f"  学籍管理员 admin:    {ADMIN[0]} / {ADMIN[2]}",
        *(f"  班主任 teacher:      {u} / {p}" for u, _d, p in TEACHERS),
        f"  家长 parent:         {PARENT_PHONE} (平台号 {PARENT_PLATFORM_NO}) / {PARENT_PASSWORD}",
        "  未使用的注册码 unused registration codes (new on every run; older ones stop working):",
        *(f"    {code}  {s.name}（{s.school_class.title}）" for s, code in slips),
        f"  主管部门 supervisor:  {SUPERVISOR[0]} / {SUPERVISOR[2]}（{DISTRICT_NAME}，三所学校）",
        "  短信验证码打印在服务器日志中 / SMS codes are printed to the server log (SMS_BACKEND=console)",
    ]
    return "\n".join(lines)


def _load_district(session: Session, first: School, rng: random.Random, today: date, enroll_year: int) -> None:
    """The demo county: the demo school and two small ones, and its supervisor."""
    from confirm.services.districts import add_school_to_district

    district = session.scalar(select(District).where(District.code == DISTRICT_CODE))
    if district is None:
        district = District(code=DISTRICT_CODE, name=DISTRICT_NAME, kind=DistrictKind.COUNTY_BUREAU.value)
        session.add(district)
        session.flush()
    schools = [first]
    for offset, (code, name, admin, days_left) in enumerate(OTHER_SCHOOLS, start=1):
        school = session.scalar(select(School).where(School.code == code))
        if school is None:
            school = School(code=code, name=name)
            session.add(school)
            session.flush()
            _staff(session, school, admin, f"学籍管理员 {name}", ADMIN[2], Role.SCHOOL_ADMIN)
            session.add(Campaign(school_id=school.id, name=f"{today.year}年秋季学籍信息核查",
                                 deadline=today + timedelta(days=days_left)))
            school_class = SchoolClass(school_id=school.id, grade="一年级", name="1班", class_code="101")
            session.add(school_class)
            session.flush()
            for i in range(OTHER_SCHOOL_STUDENTS):
                values, members = _student_values(rng, 100 * offset + i, enroll_year + 2)
                add_student(session, school, school_class, values, members)
        schools.append(school)
    for school in schools:
        add_school_to_district(session, school, district, on=today, actor=SYSTEM)
    _staff(session, None, *SUPERVISOR, role=Role.SUPERVISOR, district=district)
