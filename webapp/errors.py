"""Error pages in the user's language, with a request id the admin can find in the log.

No error page touches the database (or any other outside service): the page is drawn from the request alone — the
language from the ``lang`` cookie, no account, no menu — so it also answers while the database is down.
"""

from __future__ import annotations

import logging
import re
import secrets

from flask import Flask, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc

from uploads.storage import StorageMisconfigured, StorageUnavailable
from webapp.adapters.breaker import ServiceUnavailable
from webapp.adapters.db import is_database_outage
from webapp.extensions import login_manager

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"
_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
RETRY_AFTER = "60"


def request_id() -> str:
    """This request's id: the proxy's ``X-Request-ID`` when it sends a sane one, else a fresh one."""
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _GOOD_ID.fullmatch(given) else secrets.token_hex(6)
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        record.request_id = request_id() if has_request_context() else "-"
        return True


def _is_upload() -> bool:
    return request.method == "POST" and bool(request.files)


def page(status: int, title: str, message: str, *, hint: str | None = None, headers: dict | None = None):
    """The app's own error page: drawn from the request alone, never from the database."""
    if "_login_user" not in g:  # Flask-Login would load the account to offer ``current_user`` to the template
        g._login_user = login_manager.anonymous_user()
    body = render_template("errors/error.html", status=status, title=title, message=message, hint=hint,
                           request_id=request_id(), bare=True)
    return body, status, headers or {}


def storage_page(error: StorageUnavailable):
    if isinstance(error, StorageMisconfigured):
        log.error("storage refused the app (configuration): %s", error)
    else:
        log.error("storage unavailable: %s", error)
    if _is_upload():
        message = _("照片服务暂时不可用，您的照片没有保存，请几分钟后重新上传。")
        hint = _("您选好的照片还在：几分钟后点“重试”或重新点“提交”即可，不用重新拍照。")
    else:
        message = _("照片服务暂时不可用，暂时看不到照片。请几分钟后再试，其他页面可以照常使用。")
        hint = None
    return page(503, _("照片服务暂时不可用"), message, hint=hint, headers={"Retry-After": RETRY_AFTER})


def database_page(error: BaseException):
    log.error("database unavailable: %s", type(error).__name__ if not isinstance(error, ServiceUnavailable)
              else error)
    message = _("系统暂时连不上数据库，刚才的操作没有保存。请几分钟后再试；如果一直这样，请联系班主任。")
    if _is_upload():
        message = _("系统暂时连不上数据库，您的照片没有保存，请几分钟后重新上传。")
    return page(503, _("系统暂时不可用"), message, headers={"Retry-After": RETRY_AFTER})


def register_error_handlers(app: Flask) -> None:
    """Friendly pages for the errors people actually meet, and the request id on every answer."""

    @app.after_request
    def _request_id_header(response):
        response.headers.setdefault(REQUEST_ID_HEADER, request_id())
        return response

    @app.errorhandler(400)
    def bad_request(_e):
        return page(400, _("请求无效"), _("请返回上一页重试。"))

    @app.errorhandler(CSRFError)
    def csrf_error(_e):
        return page(
            400, _("页面已过期"), _("页面停留时间过长或已在别处登录，请返回刷新后重试。您已保存的内容不会丢失。")
        )

    @app.errorhandler(403)
    def forbidden(_e):
        return page(403, _("没有权限"), _("您的账号不能访问这个页面。"))

    @app.errorhandler(404)
    def not_found(_e):
        return page(404, _("页面不存在"), _("您要找的页面不存在，或者您没有权限查看。"))

    @app.errorhandler(405)
    def method_not_allowed(_e):
        return page(405, _("页面已过期"), _("这个地址只用来提交表单，请返回上一页重新操作。"))

    @app.errorhandler(413)
    def too_large(_e):
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return page(
            413,
            _("文件太大"),
            _(
                "上传的文件超过了 %(mb)s MB。请直接用手机相机拍照，或把照片压缩后再上传。已保存的更正不会丢失。",
                mb=limit,
            ),
        )

    @app.errorhandler(429)
    def too_many(e):
        return page(429, _("操作太频繁"), e.description if isinstance(e.description, str) and e.description
                    else _("请稍后再试"))

    app.register_error_handler(StorageUnavailable, storage_page)

    @app.errorhandler(ServiceUnavailable)
    def service_unavailable(error: ServiceUnavailable):
        if error.service == "storage":
            return storage_page(StorageUnavailable(str(error)))
        if error.service == "database":
            return database_page(error)
        log.error("%s unavailable: %s", error.service, error)
        return page(503, _("系统暂时不可用"), _("请几分钟后再试。如果一直出现，请联系班主任。"),
                    headers={"Retry-After": RETRY_AFTER})

    @app.errorhandler(exc.DBAPIError)
    @app.errorhandler(exc.TimeoutError)
    def database_error(error: Exception):
        if is_database_outage(error):
            return database_page(error)
        raise error  # a bug, not an outage: the 500 page (Flask logs it with the request id)

    @app.errorhandler(500)
    def server_error(_e):  # any other exception: Flask has logged it (with the request id) before this page
        return page(500, _("服务器出错了"), _("请稍后再试。如果一直出现，请联系班主任，并告诉他下面的错误编号。"))
