"""The signed-in user's own account: change the password, turn two-factor sign-in on or off,
and confirm the password again before a sensitive change (the step-up).

Each change is a service (services/accounts.py); a password typed here is throttled and audited
like a sign-in (auth.py), so a taken-over session cannot try passwords freely.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from .. import totp
from ..extensions import db
from ..models import User
from ..services import accounts
from ..validators import add_error, required_text
from . import bp, throttle
from .auth import (
    CODE_FAILED,
    STEP_UP_AT,
    now,
    provisioning,
    record_failure,
    refuse,
    safe_next,
    sign_in_limit,
)
from .forms import PasswordChangeForm, StepUpForm, TwoFactorOffForm, TwoFactorOnForm
from .staff import current_staff, staff_actor


@bp.get("/account")
def account() -> str:
    return _account_page()


def _account_page(
    password_form: PasswordChangeForm | None = None, off_form: TwoFactorOffForm | None = None
) -> str:
    return render_template(
        "admin/account.html",
        password_form=password_form or PasswordChangeForm(formdata=None),
        off_form=off_form or TwoFactorOffForm(formdata=None),
    )


def _check_own_password(user: User, password: str, step: str) -> throttle.Verdict | bool:
    """The signed-in user's password, asked again: throttled and audited like a sign-in.

    Returns the throttle's refusal, or whether the password was right.
    """
    verdict = throttle.check(user, request.remote_addr)
    if not verdict.allowed:
        refuse(user, verdict, step)
        return verdict
    if not user.check_password(password):
        record_failure(user, step)
        return False
    throttle.forgive(user, request.remote_addr)
    return True


def _signed_out_elsewhere(user: User, done: str) -> Response:
    """After a change that ended every session of the user: keep this one, say so, go back."""
    login_user(user, remember=False)  # this session carries the new token; others end
    flash(f"{done} You were signed out everywhere else.", "success")
    return redirect(url_for(".account"), code=303)


def _too_many(page: Response | str | tuple) -> tuple:
    flash("Too many failed attempts. Try again later.", "error")
    return page, 429


@bp.post("/account/password")
def change_password() -> Response | tuple[str, int]:
    user = current_staff()
    form = PasswordChangeForm(account_email=user.email)
    if form.validate():
        right = _check_own_password(user, required_text(form.current_password), "password change")
        if isinstance(right, throttle.Verdict):
            return _too_many(_account_page(password_form=form))
        if not right:
            add_error(form.current_password, "Your current password is not right")
        else:
            accounts.set_password(
                db.session, staff_actor(user), user, required_text(form.new_password)
            )
            return _signed_out_elsewhere(user, "Your password was changed.")
    return _account_page(password_form=form), 422


@bp.route("/account/two-factor", methods=["GET", "POST"])
def two_factor() -> Response | tuple[str, int] | str:
    """Turn two-factor sign-in on: the pending secret is kept encrypted in the database."""
    user = current_staff()
    if user.totp_secret:
        return redirect(url_for(".account"))
    if current_app.config["REQUIRE_2FA"]:
        # This session was opened with a password alone: it may not choose the authenticator.
        return render_template("admin/two_factor.html", needs_link=True)
    secret = accounts.pending_secret(db.session, user)
    form = TwoFactorOnForm()
    if form.validate_on_submit():
        if accounts.enable_two_factor(
            db.session, staff_actor(user), user, required_text(form.code)
        ):
            return _signed_out_elsewhere(user, "Two-factor sign-in is on.")
        add_error(form.code, CODE_FAILED)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/two_factor.html", form=form, **provisioning(user, secret)), status


@bp.post("/account/two-factor/off")
def two_factor_off() -> Response | tuple[str, int]:
    """Turn two-factor sign-in off: the password and a current code, then other sessions end."""
    user = current_staff()
    form = TwoFactorOffForm()
    if current_app.config["REQUIRE_2FA"]:
        abort(403)
    if form.validate():
        if user.totp_secret and not form.code.data:
            add_error(form.code, "Enter the 6-digit code from your authenticator app")
            return _account_page(off_form=form), 422
        # The same throttle as signing in: a taken-over session must not try passwords freely.
        right = _check_own_password(user, required_text(form.password), "two-factor off")
        if isinstance(right, throttle.Verdict):
            return _too_many(_account_page(off_form=form))
        if not right:
            add_error(form.password, "Your current password is not right")
        elif user.totp_secret and not totp.claim_code(db.session, user, required_text(form.code)):
            db.session.rollback()
            record_failure(user, "two-factor off code")
            add_error(form.code, CODE_FAILED)
        else:
            accounts.disable_two_factor(db.session, staff_actor(user), user)
            return _signed_out_elsewhere(user, "Two-factor sign-in is off.")
    return _account_page(off_form=form), 422


@bp.route("/confirm-password", methods=["GET", "POST"])
@sign_in_limit
def step_up() -> Response | tuple[str, int]:
    """An admin enters their password again before a sensitive account change."""
    user = current_staff()
    target = safe_next(request.args.get("next")) or url_for(".users")
    form = StepUpForm()
    status = 200
    if form.validate_on_submit():
        right = _check_own_password(user, required_text(form.password), "step-up")
        if isinstance(right, throttle.Verdict):
            return _too_many(render_template("admin/step_up.html", form=form))
        if right:
            db.session.commit()  # the throttle's forgiveness
            session[STEP_UP_AT] = int(now())
            return redirect(target, code=303)
        add_error(form.password, "Your password is not right")
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("admin/step_up.html", form=form), status
