"""Who is logged in, and the checks every view uses to keep people to their own data."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import UserMixin, current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from confirm.models import Guardianship, ParentAccount, SchoolClass, StaffUser, Student
from confirm.roles import STAFF_ROLES, Role
from confirm.services.common import Actor
from webapp.adapters import db
from webapp.extensions import login_manager


class Identity(UserMixin):
    """The logged-in parent or staff user; the session id carries a nonce that logout-everywhere rotates."""

    def __init__(self, account: ParentAccount | StaffUser):
        self.account = account
        self.kind = "parent" if isinstance(account, ParentAccount) else "staff"

    def get_id(self) -> str:
        return f"{self.kind}:{self.account.id}:{self.account.session_nonce}"

    @property
    def role(self) -> Role:
        """The user's Role."""
        return Role.PARENT if self.kind == "parent" else Role(self.account.role)

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def school_id(self) -> int | None:
        return getattr(self.account, "school_id", None)

    @property
    def display_name(self) -> str:
        if self.kind == "parent":
            return self.account.platform_no
        return self.account.display_name

    def children(self) -> list[Student]:
        """A parent's children by name, each with its class, school and family members (loaded with the account)."""
        return sorted((link.student for link in self.account.guardianships), key=lambda child: (child.name, child.id))


# A parent's pages all show the family's children: they come with the account, in the same statement.
_WITH_CHILDREN = joinedload(ParentAccount.guardianships).joinedload(Guardianship.student).options(
    joinedload(Student.school_class).joinedload(SchoolClass.school), joinedload(Student.members))
_PARENT_WITH_CHILDREN = select(ParentAccount).where(ParentAccount.id == bindparam("id")).options(_WITH_CHILDREN)


@login_manager.user_loader
def load_identity(session_id: str) -> Identity | None:
    """Rebuild the identity from the session; a changed nonce means the session was ended."""
    try:
        kind, raw_id, nonce = session_id.split(":")
        if kind == "parent":
            account = db.session().scalars(_PARENT_WITH_CHILDREN, {"id": int(raw_id)}).unique().first()
        else:
            account = db.session().get(StaffUser, int(raw_id))
    except (ValueError, TypeError):
        return None
    if account is None or account.session_nonce != nonce or not getattr(account, "is_active", True):
        return None
    return Identity(account)


def session_account(data: dict) -> tuple[str, int, str] | None:
    """(kind, id, nonce) of the account a session's data is signed in as, or None."""
    try:
        kind, raw_id, nonce = data["_user_id"].split(":")
        return kind, int(raw_id), nonce
    except (KeyError, AttributeError, ValueError):
        return None


def actor(ip: str | None = None) -> Actor:
    """The current user as the domain's Actor."""
    from flask import request

    return Actor(current_user.kind, current_user.id, ip or request.remote_addr)


def refuse_unless(*roles: Role):
    """None when the signed-in user has one of ``roles``; else the login page (anonymous) or 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in roles:
        abort(403)
    return None


def roles_required(*roles: Role):
    """Only logged-in users with one of ``roles`` may call the view (others: login page or 403)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            return refuse_unless(*roles) or view(*args, **kwargs)

        return wrapped

    return decorator


def require_role(*roles: Role):
    """A ``before_request`` guard for a whole blueprint: the same rule as ``roles_required``."""
    return lambda: refuse_unless(*roles)


STAFF = STAFF_ROLES


def parent_student_or_404(student_id: int) -> Student:
    """A student linked to the logged-in parent; anyone else's child is 404."""
    student = db.session().scalar(
        select(Student)
        .join(Guardianship, Guardianship.student_id == Student.id)
        .where(Student.id == student_id, Guardianship.parent_id == current_user.id)
    )
    if student is None:
        abort(404)
    return student


def staff_can_see_class(school_class: SchoolClass) -> bool:
    """Admins see their school's classes; head teachers only their own."""
    if school_class.school_id != current_user.school_id:
        return False
    return current_user.role == Role.SCHOOL_ADMIN or school_class.head_teacher_id == current_user.id


def staff_class_or_404(class_id: int) -> SchoolClass:
    """A class the logged-in staff user may see."""
    school_class = db.session().get(SchoolClass, class_id)
    if school_class is None or not staff_can_see_class(school_class):
        abort(404)
    return school_class


def staff_student_or_404(student_id: int) -> Student:
    """A student in a class the logged-in staff user may see."""
    student = db.session().get(Student, student_id)
    if student is None or not staff_can_see_class(student.school_class):
        abort(404)
    return student


def staff_classes() -> list[SchoolClass]:
    """The classes the logged-in staff user may see, in grade and name order."""
    query = select(SchoolClass).where(SchoolClass.school_id == current_user.school_id)
    if current_user.role != Role.SCHOOL_ADMIN:
        query = query.where(SchoolClass.head_teacher_id == current_user.id)
    return list(db.session().scalars(query.order_by(SchoolClass.grade, SchoolClass.name)))


# What a user with a temporary password may still open before choosing a new one.
_ALLOWED_BEFORE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "auth.set_language", "static",
                                   "health.healthz", "health.readyz"}
MUST_CHANGE_PASSWORD = "must_change_password"  # session key, set at sign-in


def is_signed_in() -> bool:
    """True when the session cookie names an account (asks the cookie, not the database)."""
    from flask import session

    return bool(session.get("_user_id"))


def remember_password_state(account: ParentAccount | StaffUser) -> None:
    """At sign-in: keep in the session whether the account must choose a new password first. Setting a password
    (or an admin's reset) ends every session of the account, so the mark cannot go stale."""
    from flask import session

    if getattr(account, "must_change_password", False):
        session[MUST_CHANGE_PASSWORD] = True
    else:
        session.pop(MUST_CHANGE_PASSWORD, None)


def password_change_gate():
    """Before every request: a user who must choose a password (a new staff account, or after a reset) may do
    nothing else first. Reads the session only — loading the account on every request would make every page, the
    probes and the error page need the database."""
    from flask import redirect, request, session, url_for

    if request.endpoint in _ALLOWED_BEFORE_PASSWORD_CHANGE or not session.get(MUST_CHANGE_PASSWORD):
        return None
    if is_signed_in():
        return redirect(url_for("auth.change_password"))
    return None
