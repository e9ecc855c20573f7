"""Parent views: children, record check with corrections, sheet upload, status."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from confirm.i18n import Message
from confirm.models import Student
from confirm.roles import Role
from confirm.services import keydata, proofs, records, review
from confirm.states import EDITABLE_STATES, STAGE_LABELS, State, stage_of
from webapp.adapters import db
from webapp.adapters.photos import examiner
from webapp.adapters.storage import store
from webapp.auth.identity import actor, parent_student_or_404, roles_required
from webapp.parent import bp
from webapp.parent.forms import ProofForm, ResubmitKeyForm, SubmitSheetForm, WithdrawKeyForm
from webapp.rate_limits import PARENT_UPLOADS, upload_limits
from webapp.shared.record_view import (
    EDITABLE,
    correction_entries,
    correction_form,
    editors_of,
    posted_names,
    record_blocks,
    record_rows_html,
)
from webapp.unit_of_work import attempt, render


def _children():
    """The parent's children, each with its class, school and family members (what their pages show)."""
    return current_user.children()


def _child_or_404(children, student_id: int) -> Student:
    """The child of ``children`` (this parent's) with ``student_id``; anyone else's child is 404."""
    child = next((c for c in children if c.id == student_id), None)
    if child is None:
        abort(404)
    return child


def _context(student: Student):
    return records.campaign_and_confirmation(db.session(), student, with_corrections=True)


def _running_context(student: Student):
    """(campaign, confirmation) of a running campaign; without one, back to the record page with a message."""
    campaign, confirmation = _context(student)
    if campaign is None:
        flash(_("学校还没有开始本次信息核查"), "error")
        abort(redirect(url_for("parent.record", student_id=student.id)))
    return campaign, confirmation


@bp.get("/")
@roles_required(Role.PARENT)
def home():
    children = _children()
    if len(children) == 1:
        return redirect(url_for("parent.record", student_id=children[0].id))
    stages = {}
    for child in children:
        _campaign, confirmation = _context(child)
        stage = stage_of(confirmation.state if confirmation else None, True,
                         key_data_returned=bool(keydata.returned_corrections(db.session(), confirmation)))
        stages[child.id] = STAGE_LABELS[stage]
    return render_template("parent/home.html", children=children, stages=stages)


@bp.route("/students/<int:student_id>", methods=["GET", "POST"])
@roles_required(Role.PARENT)
def record(student_id: int):
    children = _children()
    student = _child_or_404(children, student_id)
    s = db.session()
    campaign, confirmation = _context(student)
    form = None
    if request.method == "POST":  # the corrections of the editors the parent opened; other fields stay as they are
        names = posted_names(request.form)
        form = correction_form(student, confirmation, names, submitted=True)
        if form.validate_on_submit():
            if campaign is None:
                flash(_("学校还没有开始本次信息核查，暂时不能提交更正"), "error")
                return redirect(url_for("parent.record", student_id=student.id))
            ok, result = attempt(form, lambda: records.save_corrections(
                s, records.ensure_confirmation(s, campaign, student), correction_entries(form, names), actor=actor()))
            if not ok:
                confirmation = records.confirmation_for(s, campaign, student)
                flash(_("有的更正没有通过检查，这次没有保存。请看下面标红的提示，改好后再保存。"), "error")
            else:
                for _name, message in result.warnings:
                    flash(render(message), "warning")
                if result.saved:
                    flash(_("已保存 %(n)s 项更正。核对完成后请上传签字确认表。", n=result.saved), "success")
                elif names or request.form.get("then") != "submit":
                    flash(_("已保存：信息无需更正"), "success")
                if request.form.get("then") == "submit":
                    return redirect(url_for("parent.submit", student_id=student.id))
                anchor = f"#row-{names[0]}" if names else ""
                return redirect(url_for("parent.record", student_id=student.id) + anchor)
    editable = confirmation is None or State(confirmation.state) in EDITABLE_STATES
    returned = keydata.returned_corrections(s, confirmation)
    return render_template(
        "parent/record.html",
        student=student,
        children=children,
        campaign=campaign,
        confirmation=confirmation,
        record_rows=record_rows_html(student, confirmation, editable=editable and campaign is not None,
                                     fields_url=url_for("parent.record", student_id=student.id) + "/fields/",
                                     editors=editors_of(form)),
        editors=editors_of(form),
        editable=editable and campaign is not None,
        returned=returned,
        resubmit_form=ResubmitKeyForm(formdata=None) if returned else None,
        withdraw_form=WithdrawKeyForm(formdata=None) if returned else None,
    )


@bp.get("/students/<int:student_id>/fields/<name>")
@roles_required(Role.PARENT)
def correction_editor(student_id: int, name: str):
    """The editor of one field (with the fields corrected together with it): a page of its own without JavaScript,
    or, with ``?part=editor``, just the editors, which the record page puts in place."""
    student = parent_student_or_404(student_id)
    if name not in EDITABLE:
        abort(404)
    campaign, confirmation = _running_context(student)
    if confirmation is not None and State(confirmation.state) not in EDITABLE_STATES:
        flash(_("材料已提交，审核完成前不能修改；如需修改请联系班主任退回"), "warning")
        return redirect(url_for("parent.record", student_id=student.id))
    form = correction_form(student, confirmation, [name], submitted=False)
    rows = {row.input_name: row for block in record_blocks(student, confirmation) for row in block.rows}
    editors = editors_of(form)
    context = {"student": student, "editors": editors, "rows": rows, "name": name}
    if request.args.get("part") == "editor":
        return render_template("parent/_editors.html", **context), 200, {"X-Editor": "1"}
    return render_template("parent/field.html", form=form, **context)


@bp.route("/students/<int:student_id>/submit", methods=["GET", "POST"])
@upload_limits(PARENT_UPLOADS)
@roles_required(Role.PARENT)
def submit(student_id: int):
    student = parent_student_or_404(student_id)
    s = db.session()
    campaign, confirmation = _running_context(student)
    if confirmation is not None and State(confirmation.state) not in EDITABLE_STATES:
        return redirect(url_for("parent.record", student_id=student.id))
    form = SubmitSheetForm()
    proof_form = ProofForm(formdata=None)
    if form.validate_on_submit():
        if confirmation is not None and proofs.is_missing_proof(s, confirmation):
            # key data needs its proof before the sheet is taken in (the page offers no sheet form until then)
            proof_form.proof.errors = [render(Message(proofs.MISSING_PROOF))]
        else:
            ok, _sheet = attempt(form, lambda: review.submit_sheet_photo(
                s, campaign, student, form.sheet.data.read(), examiner=examiner(), store=store(), actor=actor()),
                unnamed_on="sheet")
            if ok:
                flash(_("提交成功！请等待班主任审核，审核结果会显示在这里。"), "success")
                return redirect(url_for("parent.record", student_id=student.id))
    return _submit_page(student, confirmation, form, proof_form)


def _submit_page(student: Student, confirmation, form: SubmitSheetForm, proof_form: ProofForm):
    """The upload page; 400 when a form sent to it was refused (the errors are listed at the top, each linked to
    its field, and shown next to the field)."""
    s = db.session()
    refused = request.method == "POST" and bool(form.errors or proof_form.errors)
    missing_proof = confirmation is not None and proofs.is_missing_proof(s, confirmation)
    return render_template(
        "parent/submit.html", student=student, confirmation=confirmation, form=form,
        blocks=record_blocks(student, confirmation), proof_form=proof_form, missing_proof=missing_proof,
        proofs=proofs.proofs_of(s, confirmation) if confirmation else [],
        needs_proof=confirmation is not None and proofs.needs_proof(confirmation),
    ), 400 if refused else 200


@bp.post("/students/<int:student_id>/proofs")
@upload_limits(PARENT_UPLOADS)
@roles_required(Role.PARENT)
def upload_proof(student_id: int):
    student = parent_student_or_404(student_id)
    s = db.session()
    campaign, confirmation = _running_context(student)
    form = ProofForm()
    if form.validate_on_submit():
        ok, _proof = attempt(form, lambda: proofs.add_proof(
            s, records.ensure_confirmation(s, campaign, student), examiner().proof(form.proof.data.read()),
            store=store(), actor=actor()), unnamed_on="proof")
        if ok:
            flash(_("证明材料已上传"), "success")
            return redirect(url_for("parent.submit", student_id=student.id, _anchor="proofs"))
    # Refused: the upload page again, the reason next to the proof field (the sheet form untouched).
    _campaign, confirmation = _context(student)
    return _submit_page(student, confirmation, SubmitSheetForm(formdata=None), form)


# --- a key-data correction the school turned down ------------------------------------------------------------------


def _returned_correction(student: Student, form):
    """The turned-down correction the form names, for this parent's child; the record page with a message if none."""
    _campaign, confirmation = _running_context(student)
    correction = keydata.returned_correction_for(db.session(), confirmation, form.field_key.data or "")
    if correction is None:
        flash(_("这项更正已经处理过了"), "warning")
        abort(redirect(url_for("parent.record", student_id=student.id)))
    return correction


@bp.post("/students/<int:student_id>/key-data/resubmit")
@upload_limits(PARENT_UPLOADS)
@roles_required(Role.PARENT)
def resubmit_key_data(student_id: int):
    student = parent_student_or_404(student_id)
    form = ResubmitKeyForm()
    if not form.validate_on_submit():
        for error in form.proof.errors or [_("请拍照或选择新的证明材料")]:
            flash(error, "error")
        return redirect(url_for("parent.record", student_id=student.id) + "#returned")
    correction = _returned_correction(student, form)
    ok, _result = attempt(form, lambda: keydata.resubmit_key_correction(
        db.session(), correction, examiner().proof(form.proof.data.read()), store=store(), actor=actor()))
    if ok:
        flash(_("新的证明材料已提交，学校审核后更正才会生效"), "success")
    for error in form.proof.errors:
        flash(error, "error")
    return redirect(url_for("parent.record", student_id=student.id) + ("" if ok else "#returned"))


@bp.post("/students/<int:student_id>/key-data/withdraw")
@roles_required(Role.PARENT)
def withdraw_key_data(student_id: int):
    student = parent_student_or_404(student_id)
    form = WithdrawKeyForm()
    if not form.validate_on_submit():
        abort(400)
    correction = _returned_correction(student, form)
    ok, _result = attempt(form, lambda: keydata.withdraw_key_correction(db.session(), correction, actor=actor()))
    if ok:
        flash(_("已撤回这项更正，学籍中的信息保持不变"), "success")
    return redirect(url_for("parent.record", student_id=student.id))
