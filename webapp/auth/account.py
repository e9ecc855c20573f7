"""Every signed-in user's own account: a new password, the current password typed again before a sensitive step,
and the list of signed-in sessions with "sign out everywhere else"."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from confirm.roles import Role
from confirm.services import login as accounts_login
from confirm.services import resets
from confirm.services import sessions as account_sessions
from webapp.adapters import db
from webapp.adapters.keys import code_key
from webapp.adapters.sessions import store_id_of
from webapp.auth import bp
from webapp.auth.forms import ChangePasswordForm, ConfirmPasswordForm, EndSessionForm, SignOutElsewhereForm
from webapp.auth.fresh import mark_authenticated, recently_authenticated
from webapp.auth.identity import actor, roles_required
from webapp.auth.views import home_for, start_session
from webapp.shared.links import safe_next
from webapp.unit_of_work import attempt

EVERYONE = tuple(Role)


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*EVERYONE)
def change_password():
    form = ChangePasswordForm()
    asks_current = not recently_authenticated()
    if form.validate_on_submit():
        ok, _result = attempt(form, lambda: resets.change_password(
            db.session(), current_user.account, current=form.current_password.data or "" if asks_current else None,
            password=form.password.data, password_confirm=form.password_confirm.data, key=code_key(),
            ip=request.remote_addr))
        if ok:
            identity = start_session(current_user.account)  # every session ended: carry on in a fresh one
            flash(_("新密码已设置，其他设备上的登录已退出"), "success")
            return redirect(home_for(identity))
    return render_template("auth/change_password.html", form=form, asks_current=asks_current,
                           forced=current_user.account.must_change_password, is_parent=current_user.kind == "parent")


@bp.route("/account/confirm", methods=["GET", "POST"])
@roles_required(*EVERYONE)
def reauthenticate():
    """"请再次输入密码": the current password, then back to the sensitive step."""
    form = ConfirmPasswordForm()
    next_path = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        ok, _result = attempt(form, lambda: accounts_login.check_password_again(
            db.session(), current_user.account, form.password.data, key=code_key(), ip=request.remote_addr))
        if ok:
            mark_authenticated()
            return redirect(next_path or home_for(current_user))
    return render_template("auth/reauthenticate.html", form=form, next=next_path,
                           is_staff=current_user.kind == "staff")


@bp.get("/account/sessions")
@roles_required(*EVERYONE)
def signed_in_sessions():
    rows = account_sessions.active_sessions(db.session(), current_user.account)
    return render_template("auth/sessions.html", rows=rows, here=store_id_of(session), form=EndSessionForm(),
                           others_form=SignOutElsewhereForm())


@bp.post("/account/sessions/end")
@roles_required(*EVERYONE)
def end_session():
    """Sign one other device out."""
    form = EndSessionForm()
    if not form.validate_on_submit():
        abort(400)
    if form.session_id.data == store_id_of(session):
        return redirect(url_for("auth.signed_in_sessions"))  # this browser leaves with 退出, not from this list
    ok, ended = attempt(None, lambda: account_sessions.end_session(db.session(), current_user.account,
                                                                    form.session_id.data, actor=actor()))
    if ok:
        flash(_("已让该设备退出登录") if ended else _("该设备已经退出登录"), "success")
    return redirect(url_for("auth.signed_in_sessions"))


@bp.post("/account/sessions/end-others")
@roles_required(*EVERYONE)
def sign_out_everywhere_else():
    """End every session of the account, then sign this browser in again: everyone else is out."""
    if not SignOutElsewhereForm().validate_on_submit():
        abort(400)
    account = current_user.account
    ok, _result = attempt(None, lambda: account_sessions.sign_out_everywhere(db.session(), account, actor=actor()))
    if ok:
        start_session(account, password_typed=False)
        flash(_("其他设备上的登录都已退出"), "success")
    return redirect(url_for("auth.signed_in_sessions"))
