"""Stored photos, served only to people allowed to see the student they belong to; each view is audited."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request
from flask_login import current_user
from sqlalchemy import select

from confirm.models import Guardianship, StoredFile, Student
from confirm.roles import STAFF_ROLES, Role
from confirm.services import keydata
from confirm.services.exports import record_file_view
from webapp.adapters import db
from webapp.adapters.storage import store
from webapp.auth.identity import actor, roles_required, staff_can_see_class
from webapp.unit_of_work import attempt

bp = Blueprint("files", __name__, url_prefix="/files")


def _may_see(stored: StoredFile) -> bool:
    if stored.student_id is None:
        return False
    s = db.session()
    if current_user.role == Role.PARENT:
        return s.scalar(
            select(Guardianship.id).where(
                Guardianship.student_id == stored.student_id, Guardianship.parent_id == current_user.id
            )
        ) is not None
    if current_user.role == Role.SUPERVISOR:
        # only the documents of a key-data case open before this supervisor's district
        return stored.kind == "proof" and stored.confirmation_id is not None and keydata.district_case_for_confirmation(
            s, current_user.account.district_id, stored.confirmation_id)
    student = s.get(Student, stored.student_id)
    return student is not None and staff_can_see_class(student.school_class)


@bp.get("/<int:file_id>")
@roles_required(Role.PARENT, *STAFF_ROLES, Role.SUPERVISOR)
def show(file_id: int):
    stored = db.session().get(StoredFile, file_id)
    if stored is None or not _may_see(stored):
        abort(404)
    backend = store()
    is_pdf = stored.content_type == "application/pdf"
    # ?size=thumb: the small preview of a photo (proof lists); PDFs have none
    thumbnail = request.args.get("size") == "thumb" and bool(stored.thumbnail_key)
    key = stored.thumbnail_key if thumbnail else stored.storage_key
    # Audited before the photo leaves: the presigned address below opens it without asking the app again.
    attempt(None, lambda: record_file_view(db.session(), stored, actor=actor(), thumbnail=thumbnail))
    # A PDF is never redirected to storage: only here can it be forced to download instead of opening inline.
    url = None if is_pdf else backend.presigned_url(key, expires=300)
    if url:
        return redirect(url)
    try:
        data = backend.get(key)
    except KeyError:
        abort(404)
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if is_pdf:
        headers["Content-Disposition"] = f'attachment; filename="proof-{stored.id}.pdf"'
        headers["Content-Security-Policy"] = "sandbox"
    return Response(data, mimetype="application/pdf" if is_pdf else stored.content_type, headers=headers)
