"""Error pages in the user's language."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError


def register_error_handlers(app: Flask) -> None:
    """Friendly pages for the errors people actually meet."""

    def page(status: int, title: str, message: str):
        return render_template("errors/error.html", status=status, title=title, message=message), status

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

    @app.errorhandler(503)
    def unavailable(_e):
        return page(503, _("暂时无法访问"), _("请稍后再试。您已保存的内容不会丢失。"))

    @app.errorhandler(500)
    def server_error(_e):
        return page(500, _("服务器出错了"), _("请稍后再试。如果一直出现，请联系班主任。"))
