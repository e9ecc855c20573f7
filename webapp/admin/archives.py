"""Electronic archives (电子档案): the admin asks for a class's or the school's archive, watches it being built, and
downloads it through a signed link that lasts 24 hours; every download is audited."""

from __future__ import annotations

from urllib.parse import quote

from flask import abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import SelectField
from wtforms.validators import InputRequired

from confirm.models import ArchiveJob, School, SchoolClass
from confirm.services import archives
from webapp.adapters import db
from webapp.adapters.queue import enqueue
from webapp.adapters.storage import store
from webapp.admin import bp
from webapp.auth.identity import actor, staff_classes
from webapp.jobs.archives import build_archive
from webapp.unit_of_work import attempt

SCHOOL = "school"
LINK_SALT = "archive-download"
LINK_SECONDS = archives.DOWNLOAD_HOURS * 3600
REFRESH_SECONDS = 5


class ArchiveForm(FlaskForm):
    scope = SelectField(_l("档案范围"), validators=[InputRequired()], validate_choice=False)


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def download_link(job: ArchiveJob) -> str:
    """The short signed link to a built archive (valid as long as the archive: 24 hours)."""
    return url_for("admin.archive_download", token=_signer().dumps(job.id))


def _page(form: ArchiveForm, status: int = 200):
    classes = staff_classes()
    form.scope.choices = [(SCHOOL, _("全校"))] + [(str(c.id), c.title) for c in classes]
    jobs = archives.recent_jobs(db.session(), current_user.school_id)
    school = db.session().get_one(School, current_user.school_id)
    return render_template("admin/archives.html", form=form, jobs=jobs, school=school, download_link=download_link,
                           is_downloadable=archives.is_downloadable,
                           refresh=REFRESH_SECONDS if any(j.is_open for j in jobs) else None), status


@bp.get("/archives")
def archives_page():
    return _page(ArchiveForm(formdata=None))


@bp.post("/archives")
def request_archive():
    form = ArchiveForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    s = db.session()
    school = s.get_one(School, current_user.school_id)
    school_class = None
    if form.scope.data != SCHOOL:
        school_class = s.get(SchoolClass, int(form.scope.data)) if form.scope.data.isdigit() else None
        if school_class is None or school_class.school_id != school.id:
            form.scope.errors = [_("请选择本校的班级，或“全校”")]
            return _page(form, 400)
    ok, result = attempt(form, lambda: archives.request_archive(s, current_user, school, school_class,
                                                                actor=actor()))
    if not ok:
        return _page(form, 400)
    job, created = result
    if created:  # a repeated request finds the job already queued: it is built once
        enqueue(build_archive, job.id, timeout=current_app.config["ARCHIVE_JOB_TIMEOUT"])
        flash(_("已开始生成电子档案，共 %(n)s 名学生；生成后可在下面下载（24 小时内有效）", n=job.total), "success")
    else:
        flash(_("这份电子档案正在生成，不会重复生成；请稍候"), "info")
    return redirect(url_for("admin.archives_page"))


def _expired_page():
    return render_template("admin/archive_expired.html"), 410


@bp.get("/archives/download/<token>")
def archive_download(token: str):
    try:
        job_id = _signer().loads(token, max_age=LINK_SECONDS)
    except SignatureExpired:
        return _expired_page()
    except BadSignature:  # a link cut short or mistyped (pasted from a chat): the page where the right one is
        flash(_("下载链接不完整或有误，请在下面的列表中点击“下载”"), "error")
        return redirect(url_for("admin.archives_page"))
    s = db.session()
    job = s.get(ArchiveJob, job_id)
    if job is None or not archives.can_take_archive(current_user, job.school_id, job.school_class):
        abort(404)
    if not archives.is_downloadable(job):
        return _expired_page()
    attempt(None, lambda: archives.record_download(s, job, actor=actor()))
    scope = job.school_class.title if job.school_class else _("全校")
    school = s.get_one(School, job.school_id)
    name = f"{school.name}-{scope}-{_('电子档案')}-{job.finished_at:%Y%m%d}.zip".replace(" ", "")
    objects = store()
    url = objects.presigned_url(job.object_key, expires=300)  # S3: a URL that works for five minutes
    if url:
        return redirect(url)
    try:
        stream = objects.open_object(job.object_key)
    except KeyError:
        return _expired_page()
    response = send_file(stream, mimetype="application/zip", as_attachment=True, download_name=name)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response.headers["Cache-Control"] = "private, no-store"
    if job.size_bytes:
        response.content_length = job.size_bytes
    return response



