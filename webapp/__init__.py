"""The Flask application factory: a list of named register_* steps."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_babel import format_datetime, get_locale, gettext

from webapp import adapters, rate_limits
from webapp.config import from_environment
from webapp.extensions import babel, csrf, install_template_gettext, login_manager, quick_gettext, select_locale

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app from the environment, then ``test_config`` on top."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    for step in (register_static_files, register_logging, register_proxy, register_extensions, register_blueprints,
                 register_repeat_guard, register_templates, register_errors, register_security_headers,
                 register_commands):
        step(app)
    return app


def register_static_files(app: Flask) -> None:
    """Compressed answers and fingerprinted, long-cached static files (first: compression runs last)."""
    from webapp import static_files

    static_files.init_app(app)


def register_proxy(app: Flask) -> None:
    """Behind PROXY_COUNT reverse proxies, take the client address and scheme from X-Forwarded-*."""
    count = app.config.get("PROXY_COUNT", 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def register_logging(app: Flask) -> None:
    """INFO to stderr, each line with the request's id (the one the error pages show); phone and ID numbers masked
    in every line (also in tests, the worker and the CLI, which all build the app here)."""
    from webapp import log_masking
    from webapp.errors import RequestIdFilter

    # Twilio's client logs each request with the recipient's number at INFO: only its warnings are wanted.
    logging.getLogger("twilio").setLevel(logging.WARNING)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("botocore").setLevel(logging.WARNING)
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())
    log_masking.install()
    log_masking.install(app.logger)  # Flask's own handler on it, when nothing else handles its records (debug runs)


def register_extensions(app: Flask) -> None:
    from webapp.adapters import sessions
    from webapp.auth.identity import session_account

    adapters.init_app(app)
    sessions.init_app(app, session_account)  # before CSRF: a request without its session stops first
    rate_limits.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "translations"))
    babel.init_app(app, locale_selector=select_locale)
    install_template_gettext(app)
    login_manager.localize_callback = gettext


def register_blueprints(app: Flask) -> None:
    from webapp import admin, auth, district, health, parent, teacher
    from webapp.shared import archives, files

    for bp in (auth.bp, parent.bp, teacher.bp, admin.bp, district.bp, files.bp, archives.bp, health.bp):
        app.register_blueprint(bp)


def register_repeat_guard(app: Flask) -> None:
    """A form sent twice has the effect of one (after CSRF and sign-in checks, which run first)."""
    from webapp import repeat_guard

    repeat_guard.init_app(app)


def register_templates(app: Flask) -> None:
    from confirm.fields import field_for
    from confirm.i18n import Message
    from confirm.presentation import readable
    from confirm.states import STAGE_LABELS, Stage
    from webapp.shared.urls import id_url

    def msg(value):
        return value.render(quick_gettext) if isinstance(value, Message) else quick_gettext(value)

    app.jinja_env.filters["msg"] = msg
    app.jinja_env.filters["datetime_local"] = lambda value: format_datetime(value, "yyyy-MM-dd HH:mm") if value else ""
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.globals["field_for"] = field_for  # the field schema, for pages that show one correction
    app.jinja_env.globals["readable"] = readable
    app.jinja_env.globals["id_url"] = id_url  # one URL pattern for a table's rows instead of url_for per row
    # One wording for each stage on every page, the parent's and the teacher's (confirm.states.STAGE_LABELS)
    app.jinja_env.globals["stage_label"] = lambda stage: quick_gettext(STAGE_LABELS[Stage(stage)])


def register_errors(app: Flask) -> None:
    from webapp.errors import register_error_handlers

    register_error_handlers(app)


def register_security_headers(app: Flask) -> None:
    from urllib.parse import urlsplit

    from webapp.auth.identity import is_signed_in

    endpoint = app.config.get("S3_ENDPOINT_URL")
    if endpoint:
        s3_origin = " {0.scheme}://{0.netloc}".format(urlsplit(endpoint))
    elif str(app.config.get("STORAGE_URL", "")).startswith("s3:"):
        s3_origin = " https:"  # AWS presigned URLs: the bucket's host is not known here
    else:
        s3_origin = ""  # local storage: photos are streamed by /files/ from this origin
    csp = (
        f"default-src 'self'; img-src 'self' data: blob:{s3_origin}; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", csp)
        # Pages with personal data are never kept by browsers or proxies. Asked of the session cookie, not of the
        # account: this runs after every answer, also the error page while the database is down.
        if is_signed_in():
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


def register_commands(app: Flask) -> None:
    from webapp.cli import register_cli

    register_cli(app)
