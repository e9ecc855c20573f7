"""Login, logout, registration and the language switch. Views stay thin: parse → service → commit."""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from confirm.invitations import InvalidInvitation
from confirm.privacy import NOTICE_VERSION
from confirm.roles import Role
from confirm.services import login as accounts_login
from confirm.services import registration, resets, sms_codes
from confirm.services.common import mask_phone
from confirm.services.sms_codes import Requester
from webapp.adapters import db, sessions
from webapp.adapters.keys import code_key, invite_key
from webapp.auth import bp
from webapp.auth.forms import (
    ForgotPasswordForm,
    ForgotPasswordVerifyForm,
    InvitedRegisterForm,
    LoginForm,
    RegisterStartForm,
    RegisterVerifyForm,
)
from webapp.auth.fresh import mark_authenticated
from webapp.auth.identity import Identity, password_change_gate, remember_password_state
from webapp.extensions import LOCALES
from webapp.shared.links import safe_next
from webapp.unit_of_work import attempt
from webapp.unit_of_work import render as render_message


def requester() -> Requester:
    """Who asks for an SMS code on an anonymous step: the client address and this browser's session id."""
    return Requester(request.remote_addr, getattr(session, "sid", None))


def home_for(identity: Identity) -> str:
    """Where a user lands after logging in."""
    if identity.role == Role.PARENT:
        return url_for("parent.home")
    if identity.role == Role.SCHOOL_ADMIN:
        return url_for("admin.home")
    if identity.role == Role.SUPERVISOR:
        return url_for("district.home")
    return url_for("teacher.home")


def start_session(account, *, password_typed: bool = True) -> Identity:
    """Sign ``account`` in on a fresh session with a new id (no pre-login session data survives); the password
    typed for it counts as recent for sensitive steps."""
    session.clear()
    identity = Identity(account)
    login_user(identity)
    remember_password_state(account)
    sessions.rotate()
    if password_typed:
        mark_authenticated()
    return identity


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        ok, account = attempt(form, lambda: accounts_login.authenticate(
            db.session(), form.login.data, form.password.data, key=code_key(), ip=request.remote_addr))
        if ok and account is None:
            form.password.errors.append(_("账号或密码不正确"))
        elif ok:
            identity = start_session(account)
            return redirect(safe_next(request.args.get("next")) or home_for(identity))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    if request.args.get("invite"):
        return _register_invited(request.args["invite"])
    form = RegisterStartForm()
    if form.validate_on_submit():
        data = registration.RegistrationStart(form.code.data, form.student_name.data, form.phone.data,
                                              consent_version=NOTICE_VERSION if form.consent.data else None)
        ok, challenge = attempt(form, lambda: registration.start_registration(
            db.session(), data, key=code_key(), ip=request.remote_addr, requester=requester()))
        if ok:
            return _to_register_verify(challenge)
    return render_template("auth/register.html", form=form)


def _to_register_verify(challenge, *, invited: bool = False):
    """Go to the step where the SMS code is entered. Whether the phone has an account (or, from an invitation, is on
    the record) is not said: the next page is the same either way."""
    session["reg_challenge"] = challenge.id
    session["reg_phone"] = mask_phone(challenge.phone)
    session["reg_invited"] = invited
    return redirect(url_for("auth.register_verify"))


@bp.post("/register/resend")
def register_resend():
    """"没收到验证码": a new SMS code for the same phone and child, without starting over."""
    ok, challenge = attempt(None, lambda: sms_codes.resend_challenge(
        db.session(), session.get("reg_challenge"), purpose=registration.PURPOSE, key=code_key(),
        requester=requester()))
    if not ok:
        if not session.get("reg_challenge"):
            return redirect(url_for("auth.register"))
        return redirect(url_for("auth.register_verify"))
    session["reg_challenge"] = challenge.id
    flash(_("验证码已重新发送到 %(phone)s", phone=mask_phone(challenge.phone)), "success")
    return redirect(url_for("auth.register_verify"))


def _register_invited(token: str):
    """/register?invite=…: the link names the student; the parent types a phone on the student's record."""
    s = db.session()
    try:
        student = registration.invited_student(s, token, key=invite_key())
    except InvalidInvitation as exc:
        flash(render_message(exc.message), "error")
        return redirect(url_for("auth.register"))
    form = InvitedRegisterForm()
    if form.validate_on_submit():
        ok, challenge = attempt(form, lambda: registration.start_invited_registration(
            s, token, form.phone.data, invite_key=invite_key(), key=code_key(), requester=requester(),
            consent_version=NOTICE_VERSION if form.consent.data else None))
        if ok:
            return _to_register_verify(challenge, invited=True)
    return render_template("auth/register_invited.html", form=form, student=student)


@bp.route("/register/verify", methods=["GET", "POST"])
def register_verify():
    challenge_id = session.get("reg_challenge")
    if not challenge_id:
        return redirect(url_for("auth.register"))
    form = RegisterVerifyForm()
    if form.validate_on_submit():
        ok, outcome = attempt(form, lambda: registration.complete_registration(
            db.session(),
            challenge_id=challenge_id,
            sms_code=form.sms_code.data,
            password=form.password.data or "",
            password_confirm=form.password_confirm.data or "",
            key=code_key(),
            ip=request.remote_addr,
        ))
        if ok:
            account, student, created = outcome
            start_session(account)
            if created:
                flash(_("注册成功！您的平台号是 %(no)s，请牢记。登录时可以使用平台号或手机号。",
                        no=account.platform_no), "success")
            else:
                flash(_("已将 %(name)s 添加到您的账号", name=student.name), "success")
            return redirect(url_for("parent.record", student_id=student.id))
    return render_template(
        "auth/register_verify.html",
        form=form,
        phone=session.get("reg_phone", ""),
        invited=session.get("reg_invited", False),
    )


@bp.get("/privacy")
def privacy():
    """The privacy notice guardians agree to at registration (how long proofs are kept comes from the configuration
    of ``flask retention``)."""
    return render_template("auth/privacy.html", version=NOTICE_VERSION,
                           proof_days=current_app.config.get("RETENTION_PROOF_DAYS", 30),
                           expired_days=current_app.config.get("RETENTION_EXPIRED_DAYS", 7))


@bp.get("/lang/<locale>")
def set_language(locale: str):
    if locale not in LOCALES:
        abort(404)
    response = make_response(redirect(safe_next(request.args.get("next")) or url_for("auth.index")))
    response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


bp.before_app_request(password_change_gate)


@bp.route("/login/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        ok, challenge = attempt(form, lambda: resets.start_password_reset(db.session(), form.phone.data,
                                                                           key=code_key(), requester=requester()))
        if ok:
            session["pwreset_challenge"] = challenge.id
            session["pwreset_phone"] = mask_phone(challenge.phone)
            return redirect(url_for("auth.forgot_password_verify"))
    return render_template("auth/forgot_password.html", form=form, step="phone")


@bp.route("/login/forgot/verify", methods=["GET", "POST"])
def forgot_password_verify():
    challenge_id = session.get("pwreset_challenge")
    if not challenge_id:
        return redirect(url_for("auth.forgot_password"))
    form = ForgotPasswordVerifyForm()
    if form.validate_on_submit():
        ok, _result = attempt(form, lambda: resets.complete_password_reset(
            db.session(), challenge_id=challenge_id, sms_code=form.sms_code.data, password=form.password.data,
            password_confirm=form.password_confirm.data, key=code_key(), ip=request.remote_addr))
        if ok:
            session.pop("pwreset_challenge", None)
            flash(_("密码已重置，请用新密码登录"), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form, step="verify",
                           phone=session.get("pwreset_phone", ""))
