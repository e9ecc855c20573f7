"""The school admin's area: the whole school's progress, classes, staff accounts, the campaign, imports."""

from flask import Blueprint

from confirm.roles import Role
from webapp.auth.identity import require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(Role.SCHOOL_ADMIN))  # every page of the area: the school's registry admin only

from webapp.admin import archives, audit, imports, keydata, outreach, staff, views  # noqa: E402,F401
