"""The paper loop: upload on a parent's behalf and batch upload of sheet photos."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from confirm.errors import DomainError
from confirm.models import BatchItem, BatchUpload, SchoolClass, Student
from confirm.services import exports, paper, records
from confirm.services.namesakes import student_labels
from confirm.services.paper import GateRefused
from confirm.states import BATCH_GROUP_LABELS, BATCH_WAITING, BatchGroup
from uploads.intake import IntakeError, sanitize_image
from webapp.adapters import db
from webapp.adapters.photos import examiner
from webapp.adapters.queue import enqueue
from webapp.adapters.storage import store
from webapp.auth.identity import STAFF, actor, roles_required, staff_can_see_class, staff_class_or_404
from webapp.jobs.batch import process_batch_item
from webapp.rate_limits import STAFF_UPLOADS, upload_limits
from webapp.teacher import bp
from webapp.teacher.forms import AssignForm, BatchAddForm, BatchForm, LookupForm, OnBehalfForm
from webapp.unit_of_work import apply_errors, attempt, render

NO_JS_FILES = 5  # the whole request stays under MAX_CONTENT_LENGTH; batch.js sends one photo per request


def _campaign_or_redirect(school_class: SchoolClass):
    campaign = records.active_campaign(db.session(), school_class.school_id)
    if campaign is None:
        flash(_("学校还没有开始本次信息核查"), "error")
    return campaign


# --- upload on behalf ------------------------------------------------------------------------------------------


@bp.route("/classes/<int:class_id>/upload", methods=["GET", "POST"])
@upload_limits(STAFF_UPLOADS)
@roles_required(*STAFF)
def upload_on_behalf(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    campaign = _campaign_or_redirect(school_class)
    if campaign is None:
        return redirect(url_for("teacher.class_page", class_id=school_class.id))
    lookup = LookupForm(request.args)
    form = OnBehalfForm()
    student, status, show_override = None, 200, False
    number = form.upload_no.data if request.method == "POST" else lookup.upload_no.data
    if number:
        try:
            student = paper.student_by_upload_no(s, school_class, number)
        except DomainError as exc:  # a lookup: nothing to save or roll back
            apply_errors(lookup, exc)
            status = 400
    elif request.method == "POST":
        status = 400
    if student is not None and request.method == "POST":
        if form.validate_on_submit():
            gate_refused = []

            def hand_in():
                try:
                    return _hand_in(student, campaign, form)
                except paper.GateRefused:  # a photo the gate doubts: the teacher may use it anyway, with a reason
                    gate_refused.append(True)
                    raise

            ok, _sheet = attempt(form, hand_in)
            if ok:
                flash(_("已代 %(name)s 的家长提交确认表，请在待审核中审核", name=student.name), "success")
                return redirect(url_for("teacher.upload_on_behalf", class_id=school_class.id))
            show_override, status = bool(gate_refused), 400  # never for a file that is not a photo at all
        else:
            status = 400
    if student is not None:
        form.upload_no.data = student.upload_no
        lookup.upload_no.data = student.upload_no
        show_override = show_override or bool(form.override.errors or form.override_reason.errors)
    return render_template("teacher/upload_on_behalf.html", school_class=school_class, lookup=lookup, form=form,
                           student=student, show_override=show_override), status


# --- batch upload ----------------------------------------------------------------------------------------------


def _hand_in(student: Student, campaign, form: OnBehalfForm):
    return paper.hand_in(db.session(), student, campaign, form.sheet.data.read(), store=store(), examiner=examiner(),
                         actor=actor(), how="on_behalf",
                         override_reason=(form.override_reason.data or "") if form.override.data else None)


def _batch_or_404(batch_id: int) -> tuple[BatchUpload, SchoolClass]:
    s = db.session()
    batch = s.get(BatchUpload, batch_id)
    school_class = s.get(SchoolClass, batch.class_id) if batch is not None else None
    if school_class is None or not staff_can_see_class(school_class):
        abort(404)
    return batch, school_class


def _add_photos(batch: BatchUpload, uploads) -> list[BatchItem]:
    """Keep each raw photo and record it as a pending item, then match each in a job once this is committed."""
    items = [paper.add_photo(db.session(), batch, upload.filename or "", upload.read(), store=store())
             for upload in uploads]
    return items


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/classes/<int:class_id>/batches", methods=["GET", "POST"])
@upload_limits(STAFF_UPLOADS)
@roles_required(*STAFF)
def batch_new(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    form = BatchForm()
    campaign = records.active_campaign(s, school_class.school_id)
    if campaign is not None and form.validate_on_submit():
        files = [f for f in (form.photos.data or []) if getattr(f, "filename", "")]
        if len(files) > NO_JS_FILES:
            flash(_("不用脚本上传时，每次最多 %(n)s 张照片；可在结果页继续添加", n=NO_JS_FILES), "error")
            files = files[:NO_JS_FILES]
        _ok, (batch, items) = attempt(None, lambda: _started_batch(school_class, campaign, files))
        for item in items:
            enqueue(process_batch_item, item.id)
        if _wants_json():
            return jsonify(batch_url=url_for("teacher.batch_page", batch_id=batch.id),
                           add_url=url_for("teacher.batch_add", batch_id=batch.id))
        return redirect(url_for("teacher.batch_page", batch_id=batch.id))
    if request.method == "POST":
        abort(400)
    recent = s.scalars(select(BatchUpload).where(BatchUpload.class_id == school_class.id)
                       .order_by(BatchUpload.id.desc()).limit(10)).all()
    return render_template("teacher/batch_new.html", school_class=school_class, campaign=campaign, form=form,
                           recent=recent, no_js_files=NO_JS_FILES)


def _started_batch(school_class: SchoolClass, campaign, files) -> tuple[BatchUpload, list[BatchItem]]:
    batch = paper.start_batch(db.session(), school_class, campaign, actor=actor())
    return batch, _add_photos(batch, files)


@bp.post("/batches/<int:batch_id>/items")
@upload_limits(STAFF_UPLOADS)
@roles_required(*STAFF)
def batch_add(batch_id: int):
    batch, _school_class = _batch_or_404(batch_id)
    form = BatchAddForm()
    if not form.validate_on_submit():
        abort(400)
    _ok, (item,) = attempt(None, lambda: _add_photos(batch, [form.photo.data]))
    enqueue(process_batch_item, item.id)
    if _wants_json():
        db.session().refresh(item)
        return jsonify(id=item.id, position=item.position, status=item.status, **paper.progress(batch))
    return redirect(url_for("teacher.batch_page", batch_id=batch.id))


# An A4 sheet 1000 px tall prints its 拍照上传号 (10 pt) about 12 px high: readable; the 320 px thumbnail is not.
PREVIEW_EDGE = 1000


def _students_of(batch: BatchUpload) -> dict[int, Student]:
    ids = {item.student_id for item in batch.items if item.student_id}
    if not ids:
        return {}
    return {st.id: st for st in db.session().scalars(select(Student).where(Student.id.in_(ids)))}


@bp.get("/batches/<int:batch_id>")
@roles_required(*STAFF)
def batch_page(batch_id: int):
    batch, school_class = _batch_or_404(batch_id)
    try:
        only = BatchGroup(request.args["show"]) if request.args.get("show") else None
    except ValueError:
        abort(404)
    return render_template("teacher/batch.html", batch=batch, school_class=school_class,
                           progress=paper.progress(batch), labels=paper.STATUS_LABELS,
                           groups=paper.grouped_items(batch, only), only=only, group_labels=BATCH_GROUP_LABELS,
                           students=_students_of(batch), label=student_labels(db.session(), [school_class.id]),
                           suggested=paper.suggested_upload_numbers(db.session(), batch, examiner()),
                           waiting=BATCH_WAITING, add_form=BatchAddForm(), assign_form=AssignForm())


@bp.get("/batches/<int:batch_id>/status.json")
@roles_required(*STAFF)
def batch_status(batch_id: int):
    batch, _school_class = _batch_or_404(batch_id)
    items = [{"id": i.id, "status": i.status, "label": _(paper.STATUS_LABELS[i.status])} for i in batch.items]
    return jsonify(items=items, **paper.progress(batch))


@bp.post("/batches/<int:batch_id>/assign")
@roles_required(*STAFF)
def batch_assign(batch_id: int):
    batch, school_class = _batch_or_404(batch_id)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    s = db.session()
    item = s.get(BatchItem, form.item_id.data)
    if item is None or item.batch_id != batch.id:
        abort(404)
    back = redirect(url_for("teacher.batch_page", batch_id=batch.id) + f"#item-{item.id}")
    if form.action.data == "discard":
        ok, _result = attempt(None, lambda: paper.discard_item(s, item, store=store(), actor=actor()))
        if ok:
            flash(_("已放弃第 %(n)s 张照片", n=item.position), "success")
        return back
    ok, student = attempt(None, lambda: _assign(school_class, item, form))
    if ok:
        flash(_("第 %(n)s 张照片已归档到 %(name)s 名下", n=item.position, name=student.name), "success")
    return back


def _assign(school_class: SchoolClass, item: BatchItem, form: AssignForm) -> Student:
    """File a left-over photo under the student whose upload number the teacher typed; any refusal is told as one
    message about this photo (the page lists many)."""
    s = db.session()
    try:
        student = paper.student_by_upload_no(s, school_class, form.upload_no.data)
        paper.assign_item(s, item, student, store=store(), examiner=examiner(), actor=actor(),
                          override_reason=(form.override_reason.data or "") if form.override.data else None)
    except GateRefused as exc:
        reasons = "；".join(render(message) for _field, message in exc.errors)
        raise DomainError(_("第 %(n)s 张照片没有通过检查：%(reasons)s。确认可用时请勾选“仍然使用这张照片”并填写原因。",
                            n=item.position, reasons=reasons)) from None
    except DomainError as exc:
        raise DomainError(_("第 %(n)s 张照片：%(reason)s", n=item.position, reason=render(exc.message))) from None
    return student


@bp.get("/batches/<int:batch_id>/photo")
@roles_required(*STAFF)
def batch_photo(batch_id: int):
    """A picture of one photo of the batch (?item=id; default: the first still to be filed by hand): a photo still
    to be filed by hand at PREVIEW_EDGE, large enough to read the 拍照上传号 printed on the sheet; a filed one as
    its thumbnail."""
    batch, _school_class = _batch_or_404(batch_id)
    wanted = request.args.get("item", type=int)
    item = next((i for i in batch.items if (i.id == wanted if wanted else bool(i.upload_key or i.file_id))), None)
    if item is None or not (item.upload_key or item.file_id):
        abort(404)
    if item.file_id:  # filed: /files/ shows it, and audits the view
        return redirect(url_for("files.show", file_id=item.file_id, size="thumb"))
    try:
        preview = sanitize_image(store().get(item.upload_key), long_edge=PREVIEW_EDGE).data
    except (KeyError, IntakeError):
        abort(404)
    attempt(None, lambda: exports.record_batch_photo_view(db.session(), item, batch.school_id, actor=actor()))
    return Response(preview, mimetype="image/jpeg",
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
