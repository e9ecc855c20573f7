"""Who may do what: the roles of the people using the platform."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A signed-in person's role. Parents are accounts of their own; staff users carry one of the others."""

    PARENT = "parent"
    HEAD_TEACHER = "head_teacher"  # 班主任: their own classes
    SCHOOL_ADMIN = "school_admin"  # 学籍管理员: the whole school


STAFF_ROLES = (Role.HEAD_TEACHER, Role.SCHOOL_ADMIN)
