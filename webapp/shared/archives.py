"""Electronic archives for staff: the signed 24-hour download link of a built archive (every download audited) and
what the pages that ask for archives share — the school admin's (any class, or the whole school) and the head
teacher's (their class). Who may take which archive is ``confirm.services.archives.can_take_archive``."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from confirm.clock import local_today
from confirm.models import ArchiveJob, School, SchoolClass
from confirm.roles import STAFF_ROLES, Role
from confirm.services import archives
from webapp.adapters import db
from webapp.adapters.queue import enqueue
from webapp.adapters.storage import store
from webapp.auth.fresh import ask_again_unless_recent
from webapp.auth.identity import actor, roles_required
from webapp.jobs.archives import build_archive
from webapp.unit_of_work import attempt

bp = Blueprint("archives", __name__, url_prefix="/archives")
LINK_SALT = "archive-download"
LINK_SECONDS = archives.DOWNLOAD_HOURS * 3600
REFRESH_SECONDS = 5


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def download_link(job: ArchiveJob) -> str:
    """The short signed link to a built archive (valid as long as the archive: 24 hours)."""
    return url_for("archives.download", token=_signer().dumps(job.id))


def page_context(jobs: list[ArchiveJob]) -> dict:
    """What the job table (``_partials/_archive_jobs.html``) needs; refreshes while a job is open."""
    return {"jobs": jobs, "download_link": download_link, "is_downloadable": archives.is_downloadable,
            "refresh": REFRESH_SECONDS if any(j.is_open for j in jobs) else None}


def ask_for(school: School, school_class: SchoolClass | None, form) -> bool:
    """Request the archive (one use case, one commit), queue its build when it is new, and say so; False when the
    request was refused (the reason is on ``form``)."""
    ok, result = attempt(form, lambda: archives.request_archive(db.session(), current_user, school, school_class,
                                                                actor=actor()))
    if not ok:
        return False
    job, created = result
    if created:  # a repeated request finds the job already queued: it is built once
        enqueue(build_archive, job.id, timeout=current_app.config["ARCHIVE_JOB_TIMEOUT"])
        flash(_("已开始生成电子档案，共 %(n)s 名学生；生成后可在下面下载（24 小时内有效）", n=job.total), "success")
    else:
        flash(_("这份电子档案正在生成，不会重复生成；请稍候"), "info")
    return True


def _archives_home() -> str:
    return url_for("admin.archives_page") if current_user.role == Role.SCHOOL_ADMIN else url_for("teacher.home")


def _expired_page():
    return render_template("archives/expired.html", back=_archives_home()), 410


@bp.get("/<token>")
@roles_required(*STAFF_ROLES)
def download(token: str):
    try:
        job_id = _signer().loads(token, max_age=LINK_SECONDS)
    except SignatureExpired:
        return _expired_page()
    except BadSignature:  # a link cut short or mistyped (pasted from a chat): the page where the right one is
        flash(_("下载链接不完整或有误，请在下面的列表中点击“下载”"), "error")
        return redirect(_archives_home())
    s = db.session()
    job = s.get(ArchiveJob, job_id)
    if job is None or not archives.can_take_archive(current_user, job.school_id, job.school_class):
        abort(404)
    if not archives.is_downloadable(job):
        return _expired_page()
    # the whole school's archive (every student's sheet and proofs) asks for the password again, like the
    # whole-school Excel export; the link leads back here afterwards
    if job.school_class is None and (ask := ask_again_unless_recent()) is not None:
        return ask
    attempt(None, lambda: archives.record_download(s, job, actor=actor()))
    scope = job.school_class.title if job.school_class else _("全校")
    school = s.get_one(School, job.school_id)
    name = f"{school.name}-{scope}-{_('电子档案')}-{local_today(job.finished_at):%Y%m%d}.zip".replace(" ", "")
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
