"""The supervisor's area (主管部门: 县教育局 / 中心校): every school of the district, counts only, and key-data 核办."""

from flask import Blueprint

from confirm.roles import Role
from webapp.auth.identity import require_role

bp = Blueprint("district", __name__, url_prefix="/district")
bp.before_request(require_role(Role.SUPERVISOR))  # every page of the area: a district's supervisor only

from webapp.district import keydata, views  # noqa: E402,F401
