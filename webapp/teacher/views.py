"""Head-teacher views: thin — load and check access, call one service, commit, respond."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from confirm.i18n import N_
from confirm.roles import Role
from confirm.services import directory, keydata, outreach, proofs, provenance, records, review, review_queue, stats
from confirm.services.common import mask_phone
from confirm.services.namesakes import class_labels, student_labels
from confirm.services.school import issue_class_codes
from confirm.states import REMINDER_STAGES, STAGE_LABELS, Stage, State, stage_of
from webapp.adapters import db
from webapp.adapters.keys import code_key
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404, staff_classes, staff_student_or_404
from webapp.shared.links import registration_url
from webapp.shared.record_view import record_blocks
from webapp.shared.urls import id_url
from webapp.teacher import bp
from webapp.teacher.forms import ApproveForm, IssueCodesForm, ReturnForm
from webapp.teacher.queue import position, url_after_decision, waiting
from webapp.unit_of_work import attempt


@bp.get("/")
@roles_required(*STAFF)
def home():
    if current_user.role == Role.SCHOOL_ADMIN:
        return redirect(url_for("admin.home"))
    classes = staff_classes()
    if len(classes) == 1:
        return redirect(url_for("teacher.class_page", class_id=classes[0].id))
    campaign = records.active_campaign(db.session(), current_user.school_id)
    counts = stats.stage_counts(db.session(), [c.id for c in classes], campaign.id if campaign else None)
    return render_template("teacher/home.html", classes=classes, counts=counts, campaign=campaign)


@bp.get("/classes/<int:class_id>")
@roles_required(*STAFF)
def class_page(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    try:
        selected = Stage(request.args["stage"]) if request.args.get("stage") else None
    except ValueError:
        abort(404)
    search = request.args.get("q", "").strip()[:50]
    _school, campaign = records.school_and_campaign(s, school_class.school_id)  # the page shows the school's name
    overview = stats.class_overview(s, school_class.id, campaign, selected, search)
    labels = class_labels(s, school_class.id, overview.roster)
    unregistered = [line.id for line in overview.roster if line.stage == Stage.UNREGISTERED]
    return render_template(
        "teacher/class.html",
        school_class=school_class,
        campaign=campaign,
        counts=overview.counts,
        total=overview.figures.total,
        figures=overview.figures,
        behind=overview.behind,
        stages=list(Stage),
        stage_labels=STAGE_LABELS,
        # said once, not per student: each stage's word, each student's label, the review link's path
        stage_names={stage: _(STAGE_LABELS[stage]) for stage in Stage},
        names=labels.shown([*overview.listed, *overview.behind], _),
        student_url=id_url("teacher.student_page", "student_id"),
        selected=selected,
        search=search,
        students=overview.listed,
        codes_form=IssueCodesForm(),
        invitations=outreach.invitation_counts(s, school_class.id, unregistered),
    )


@bp.post("/classes/<int:class_id>/codes")
@roles_required(*STAFF)
def issue_codes(class_id: int):
    school_class = staff_class_or_404(class_id)
    form = IssueCodesForm()
    if not form.validate_on_submit():
        abort(400)
    _ok, slips = attempt(None, lambda: issue_class_codes(db.session(), school_class, key=code_key(), actor=actor()))
    response = render_template("teacher/code_slips.html", school_class=school_class, slips=slips,
                               label=student_labels(db.session(), [school_class.id]),
                               register_url=registration_url())
    return response, 200, {"Cache-Control": "no-store"}


def _review_context(student_id: int):
    student = staff_student_or_404(student_id)
    # the running campaign, the student's confirmation and its corrections: one statement
    campaign, confirmation = records.campaign_and_confirmation(db.session(), student, with_corrections=True)
    return student, campaign, confirmation


EVENT_LABELS = {State.APPROVED.value: N_("审核通过"), State.RETURNED.value: N_("退回给家长")}  # submissions: how


def _render_review(student, campaign, confirmation, approve_form=None, return_form=None, status=200):
    s = db.session()
    linked = directory.student_parents(s, student)
    stage = stage_of(confirmation.state if confirmation else None, bool(linked),
                     key_data_returned=bool(keydata.returned_corrections(s, confirmation)))
    is_submitted = confirmation is not None and confirmation.state == State.SUBMITTED.value
    found_proofs = proofs.proofs_of(s, confirmation) if confirmation else []
    return render_template(
        "teacher/student.html",
        student=student,
        student_label=student_labels(s, [student.class_id])(student),
        confirmation=confirmation,
        stage=stage,
        # the student's page before any submission too: who is linked, what was sent, what the teacher can do
        parents=linked,
        messages=directory.student_messages(s, student),
        mask_phone=mask_phone,
        kind_labels=outreach.KIND_LABELS,
        status_labels=outreach.STATUS_LABELS,
        can_remind=stage in REMINDER_STAGES,
        stage_labels=STAGE_LABELS,
        event_label=lambda event: provenance.event_label(event, EVENT_LABELS),
        provenance=provenance.provenance_of(s, confirmation),
        key_outcomes=keydata.OUTCOME_LABELS,
        blocks=record_blocks(student, confirmation),
        # the decision's forms only when there is a submission to decide on
        approve_form=approve_form or (ApproveForm() if is_submitted else None),
        return_form=return_form or (ReturnForm() if is_submitted else None),
        is_submitted=is_submitted,
        # the review queue: proof documents, the checks of each new value, previous / next submission
        proofs=found_proofs,
        missing_proof=confirmation is not None and proofs.is_missing_among(confirmation, found_proofs),
        verdicts=review_queue.correction_verdicts(student, confirmation.corrections) if confirmation else {},
        # only a submission waits in the queue
        position=position(student, campaign) if is_submitted else None,
    ), status


@bp.get("/students/<int:student_id>")
@roles_required(*STAFF)
def student_page(student_id: int):
    student, campaign, confirmation = _review_context(student_id)
    return _render_review(student, campaign, confirmation)


@bp.post("/students/<int:student_id>/approve")
@roles_required(*STAFF)
def approve(student_id: int):
    student, campaign, confirmation = _review_context(student_id)
    form = ApproveForm()
    if confirmation is None or not form.validate_on_submit():
        abort(400)
    queue_before = waiting(student)
    ok, _result = attempt(form, lambda: review.approve_confirmation(db.session(), confirmation, actor=actor()))
    if not ok:
        return _render_review(student, campaign, confirmation, approve_form=form, status=409)
    flash(_("已通过 %(name)s 的确认表", name=student.name), "success")
    return redirect(url_after_decision(student, queue_before))


@bp.post("/students/<int:student_id>/return")
@roles_required(*STAFF)
def return_(student_id: int):
    student, campaign, confirmation = _review_context(student_id)
    form = ReturnForm()
    if confirmation is None:
        abort(400)
    if form.validate_on_submit():
        queue_before = waiting(student)
        ok, _result = attempt(form, lambda: review.return_confirmation(db.session(), confirmation,
                                                                      form.full_reason(), actor=actor()))
        if ok:
            flash(_("已退回 %(name)s 的确认表，家长会收到短信通知", name=student.name), "success")
            return redirect(url_after_decision(student, queue_before))
    return _render_review(student, campaign, confirmation, return_form=form, status=400)
