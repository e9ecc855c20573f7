"""Districts and their supervisors: the tree of districts, which schools are in it (with history), accounts.

A school's time in a district is a SchoolDistrictMembership row: ``from_date`` is its first day there and
``to_date`` the first day it is no longer there (None while it still is). ``School.district_id`` names the district
of the open row, so "the schools a supervisor sees" is one indexed lookup; the closed rows keep the history.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from confirm.districts import MAX_NESTING, DistrictKind
from confirm.errors import FieldErrors
from confirm.i18n import N_, Message
from confirm.models import District, School, SchoolDistrictMembership, StaffUser
from confirm.passwords import facts_of, password_problem
from confirm.roles import Role
from confirm.security import hash_password, new_nonce
from confirm.services.common import Actor, audit

_CODE = re.compile(r"^[A-Za-z0-9_-]{2,20}$")
_USERNAME = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9_.-]{3,64}$")


def district_by_code(session: Session, code: str) -> District | None:
    """The district with ``code``, if any."""
    return session.scalar(select(District).where(District.code == (code or "").strip()))


def create_district(session: Session, *, code: str, name: str, kind: str, parent: District | None = None,
                    actor: Actor) -> District:
    """A new district (县教育局 or 中心校), optionally inside ``parent``."""
    code, name = (code or "").strip(), (name or "").strip()
    errors = []
    if not _CODE.match(code):
        errors.append(("code", Message(N_("机构代码为 2–20 位字母、数字、下划线或短横线"))))
    elif district_by_code(session, code) is not None:
        errors.append(("code", Message(N_("这个机构代码已经存在"))))
    if not name:
        errors.append(("name", Message(N_("请填写机构名称"))))
    if kind not in set(DistrictKind):
        errors.append(("kind", Message(N_("机构类型无效"))))
    if parent is not None and len(ancestor_ids(session, parent.id)) >= MAX_NESTING:
        errors.append(("parent", Message(N_("上级机构的层级太深（最多 %(n)s 层）"), {"n": MAX_NESTING})))
    if errors:
        raise FieldErrors(errors)
    district = District(code=code, name=name, kind=kind, parent_id=parent.id if parent else None)
    session.add(district)
    session.flush()
    audit(session, actor, "district.created", target=district,
          detail={"code": code, "kind": kind, "parent_id": district.parent_id})
    return district


def ancestor_ids(session: Session, district_id: int) -> list[int]:
    """The district's id and its parents' up to the top (one recursive query)."""
    up = select(District.id, District.parent_id, literal(1).label("depth")).where(District.id == district_id)
    up = up.cte("up", recursive=True)
    up = up.union_all(select(District.id, District.parent_id, (up.c.depth + 1).label("depth"))
                      .join(up, District.id == up.c.parent_id).where(up.c.depth < MAX_NESTING + 1))
    return list(session.scalars(select(up.c.id)))


def subtree_select(district_id: int):
    """A SELECT of the district's id and every district below it, to use inside another query."""
    down = select(District.id, literal(1).label("depth")).where(District.id == district_id)
    down = down.cte("district_tree", recursive=True)
    down = down.union_all(select(District.id, (down.c.depth + 1).label("depth"))
                          .join(down, District.parent_id == down.c.id).where(down.c.depth < MAX_NESTING + 1))
    return select(down.c.id)


def add_school_to_district(session: Session, school: School, district: District, *, on: date,
                           actor: Actor) -> SchoolDistrictMembership:
    """Put ``school`` in ``district`` from ``on``; a school in another district moves (its old row is closed, so
    the old district keeps its history). Repeat-safe: the school already there is left as it is."""
    current = session.scalar(select(SchoolDistrictMembership).where(
        SchoolDistrictMembership.school_id == school.id, SchoolDistrictMembership.to_date.is_(None)))
    if current is not None and current.district_id == district.id:
        return current
    if current is not None and on < current.from_date:
        raise FieldErrors([("on", Message(N_("转入日期不能早于该校进入原机构的日期（%(day)s）"),
                                          {"day": current.from_date.isoformat()}))])
    if current is not None:
        # conditional: a concurrent move that closed it first leaves 0 rows here, and we refuse rather than fork
        closed = session.execute(
            update(SchoolDistrictMembership)
            .where(SchoolDistrictMembership.id == current.id, SchoolDistrictMembership.to_date.is_(None))
            .values(to_date=on)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        if closed != 1:
            raise FieldErrors([("", Message(N_("该校的归属刚刚被其他人修改，请刷新后再试")))])
    membership = SchoolDistrictMembership(school_id=school.id, district_id=district.id, from_date=on,
                                          created_by_kind=actor.kind, created_by_id=actor.id)
    try:
        with session.begin_nested():
            session.add(membership)
            session.flush()
    except IntegrityError:
        raise FieldErrors([("", Message(N_("该校的归属刚刚被其他人修改，请刷新后再试")))]) from None
    old_district_id = school.district_id
    school.district_id = district.id
    audit(session, actor, "school.district_changed", school_id=school.id, target=membership, detail={
        "from_district_id": old_district_id, "to_district_id": district.id, "on": on.isoformat()})
    session.flush()
    return membership


def create_supervisor(session: Session, district: District, *, username: str, display_name: str, password: str,
                      phone: str | None = None, actor: Actor) -> StaffUser:
    """A supervisor account (主管部门用户) of ``district``; it chooses its own password at the first sign-in."""
    username, display_name = (username or "").strip(), (display_name or "").strip()
    errors = []
    if not _USERNAME.match(username):
        errors.append(("username", Message(N_("用户名为 3–64 位字母、数字、下划线、点或短横线，且至少包含一个字母"))))
    elif session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        errors.append(("username", Message(N_("用户名已被使用"))))
    if not display_name:
        errors.append(("display_name", Message(N_("请填写姓名"))))
    problem = password_problem(password or "", facts_of(phones=[phone], numbers=[username]))
    if problem is not None:
        errors.append(("password", problem))
    if errors:
        raise FieldErrors(errors)
    user = StaffUser(school_id=None, district_id=district.id, username=username, display_name=display_name,
                     role=Role.SUPERVISOR.value, phone=phone or None, password_hash=hash_password(password),
                     session_nonce=new_nonce(), is_active=True, must_change_password=True)
    session.add(user)
    session.flush()
    audit(session, actor, "supervisor.created", target=user, detail={"district_id": district.id})
    return user


def school_in_district(session: Session, school_id: int, district_id: int) -> School | None:
    """The school when it is now in ``district_id`` or a district below it; None otherwise."""
    return session.scalar(select(School).where(School.id == school_id,
                                               School.district_id.in_(subtree_select(district_id))))


def past_memberships(session: Session, district_id: int) -> list[SchoolDistrictMembership]:
    """Schools that were in the district (or below it) and have left it, newest move first."""
    from sqlalchemy.orm import joinedload

    return list(session.scalars(
        select(SchoolDistrictMembership)
        .options(joinedload(SchoolDistrictMembership.school), joinedload(SchoolDistrictMembership.district))
        .where(SchoolDistrictMembership.district_id.in_(subtree_select(district_id)),
               SchoolDistrictMembership.to_date.is_not(None))
        .order_by(SchoolDistrictMembership.to_date.desc(), SchoolDistrictMembership.id.desc())
    ))
