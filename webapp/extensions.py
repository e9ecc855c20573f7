"""Flask extensions, created unbound and initialised in create_app."""

from flask import has_request_context, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect

LOCALES = ("zh_CN", "en")

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


def select_locale() -> str:
    """Chinese unless the person chose English (cookie set by the language switch); Chinese in jobs and commands,
    which have no request (an archive is filed in the school's language)."""
    chosen = request.cookies.get("lang") if has_request_context() else None
    return chosen if chosen in LOCALES else "zh_CN"


babel = Babel()
