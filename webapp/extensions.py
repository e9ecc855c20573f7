"""Flask extensions, created unbound and initialised in create_app."""

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_translations
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


def request_translations():
    """The translations of the request's language, looked up once per request (flask-babel looks them up again on
    every call, about 25 µs: a page says a hundred words); outside a request (jobs, commands) each time."""
    if not has_request_context():
        return get_translations()
    environ = request.environ  # the request's own (an app context, and its g, may serve several in tests)
    found = environ.get("confirm.translations")
    if found is None:
        found = environ["confirm.translations"] = get_translations()
    return found


def quick_gettext(string: str, **variables) -> str:
    """``gettext`` through the request's translations (for templates and their helpers)."""
    text = request_translations().ugettext(string)
    return text % variables if variables else text


def install_template_gettext(app: Flask) -> None:
    """The templates' ``_()``, ``ngettext()``… through the request's translations (after ``babel.init_app``, which
    installs the same callables with a lookup per call)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
