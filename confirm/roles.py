"""Who may do what: the roles of the people using the platform."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A signed-in person's role. Parents are accounts of their own; staff users carry one of the others."""

    PARENT = "parent"
    HEAD_TEACHER = "head_teacher"  # 班主任: their own classes
    SCHOOL_ADMIN = "school_admin"  # 学籍管理员: the whole school
    SUPERVISOR = "supervisor"  # 主管部门 (县教育局 / 中心校): every school of one district, counts only


STAFF_ROLES = (Role.HEAD_TEACHER, Role.SCHOOL_ADMIN)  # staff of one school (StaffUser.school_id set)
# Every role a StaffUser row may carry: a supervisor is a StaffUser of a district (school_id NULL, district_id set),
# so sign-in, server-side sessions, password changes and step-up work for it unchanged (account kind "staff").
STAFF_ACCOUNT_ROLES = (*STAFF_ROLES, Role.SUPERVISOR)
