"""Flask extensions, created unbound and initialised in create_app."""

from flask import request
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
    """Chinese unless the person chose English (cookie set by the language switch)."""
    chosen = request.cookies.get("lang")
    return chosen if chosen in LOCALES else "zh_CN"


babel = Babel()
