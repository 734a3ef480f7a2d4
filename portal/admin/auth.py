"""Signing in and out, two-factor codes, session lifetime, the sign-in throttle, the account page.

Sessions are Flask's signed cookies managed by Flask-Login, with three additions:
- the user's session token (replaced on sign-out, password change and disabling) is part of the
  id Flask-Login keeps, so every session of that user, and any copy of its cookie, ends at once;
- the session carries its sign-in and last-request times, checked on every staff request
  (SESSION_IDLE_TIMEOUT, SESSION_ABSOLUTE_TIMEOUT);
- failed sign-ins are audit events (naming the account only when it exists), and the throttle
  (throttle.py) counts attempts in the database, atomically, so every web process sees one count;
- two-factor codes and set-up links are claimed once (totp.py); sensitive account changes ask
  for the acting admin's password again (a step-up, valid STEP_UP_LIFETIME seconds).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from .. import audit
from ..extensions import csrf, db, limiter, login_manager
from ..models import User, utcnow
from . import bp, throttle, totp
from .forms import (
    CodeForm,
    LoginForm,
    PasswordChangeForm,
    SetupForm,
    StepUpForm,
    TwoFactorOffForm,
    TwoFactorOnForm,
)

LOGIN_AT = "staff_login_at"
SEEN_AT = "staff_seen_at"
PENDING = "staff_pending_sign_in"
STEP_UP_AT = "staff_step_up_at"
# A set-up link whose password was confirmed in this browser: the link's hash and the time.
SETUP_CONFIRMED = "staff_setup_confirmed"
# How long the second step of signing in (the code) may wait after the password.
PENDING_LIFETIME = 5 * 60

SIGN_IN_FAILED = "The email address or password is not right"
# Who a failed sign-in for an account that does not exist is recorded as: never the typed text.
UNKNOWN_ACCOUNT = "unknown account"
CODE_FAILED = "The code is not right: enter the code your authenticator app shows now"


# --- Who is signed in ----------------------------------------------------------------------------


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user whose id and current session token the session holds; else no one."""
    number, _, token = user_id.partition(":")
    if not number.isdecimal() or not token:
        return None
    user = db.session.get(User, int(number))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def acting_user() -> User | None:
    """The signed-in user as a model object (not the proxy), or None."""
    return current_user._get_current_object() if current_user.is_authenticated else None


def record(action: str, *, user: User | None = None, **fields: Any) -> None:
    """Add an audit event for this request (who, from where) to the current transaction."""
    audit.record(db.session, action, user=user or acting_user(), ip=request.remote_addr, **fields)


def commit() -> None:
    """Commit the action with its audit event; if that fails, neither happened (503)."""
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not commit a staff action and its audit event")
        abort(503)


# --- Session lifetime ----------------------------------------------------------------------------


def now() -> float:
    """Seconds since the epoch (the session's clock)."""
    return time.time()


def end_expired_session() -> bool:
    """End this session if it was idle too long or signed in too long ago; True if it did."""
    if not current_user.is_authenticated:
        return False
    login_at, seen_at, clock = session.get(LOGIN_AT), session.get(SEEN_AT), now()
    config = current_app.config
    if (
        isinstance(login_at, int)
        and isinstance(seen_at, int)
        and clock - seen_at <= config["SESSION_IDLE_TIMEOUT"]
        and clock - login_at <= config["SESSION_ABSOLUTE_TIMEOUT"]
    ):
        return False
    reason = (
        "idle"
        if isinstance(seen_at, int) and clock - seen_at > config["SESSION_IDLE_TIMEOUT"]
        else "time limit"
    )
    record("session.expired", detail={"reason": reason})
    commit()
    logout_user()
    session.clear()
    flash("You were signed out to protect patient information. Sign in again.", "info")
    return True


def touch_session() -> None:
    """Note this request's time: the idle clock starts again."""
    session[SEEN_AT] = int(now())


def next_target() -> str | None:
    """Where to come back to after signing in: this page, if it was a GET."""
    if request.method != "GET":
        return None
    return request.full_path.rstrip("?")


def safe_next(target: str | None) -> str | None:
    """The ?next= value if it is a path of this site, else None (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# --- The throttle and the password check -----------------------------------------------------

# One request limit per client address for every step of signing in (POSTs only: showing the
# form costs nothing), on top of the per-account throttle in the database.
sign_in_limit = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="staff-sign-in", methods=["POST"]
)


def refuse(user: User | None, verdict: throttle.Verdict, step: str) -> None:
    """Audit a refused attempt, once per address per window (the throttle says which one)."""
    if verdict.first_refusal:
        detail = {"step": step, "reason": verdict.reason}
        record(
            "login.blocked",
            user=user,
            actor=user.email if user else UNKNOWN_ACCOUNT,
            target=user.email if user else None,
            detail=detail,
        )
        commit()


def record_failure(user: User | None, step: str, **detail: str) -> None:
    """Audit a failed check: the account when it exists, never what was typed otherwise."""
    record(
        "login.failed",
        user=user,
        actor=user.email if user else UNKNOWN_ACCOUNT,
        target=user.email if user else None,
        detail={"step": step, **detail},
    )
    commit()


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("a password that no account has", method=method)


def password_matches(user: User | None, password: str) -> bool:
    """Check the password; for an unknown account check a dummy hash, so both take as long."""
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return user.check_password(password)


def step_up_fresh() -> bool:
    """True when the signed-in admin entered their password again within STEP_UP_LIFETIME."""
    confirmed = session.get(STEP_UP_AT)
    lifetime = current_app.config["STEP_UP_LIFETIME"]
    return isinstance(confirmed, int) and 0 <= now() - confirmed <= lifetime


def provisioning(user: User, secret: str) -> dict[str, str]:
    """What an authenticator app needs (see totp.provisioning)."""
    return totp.provisioning(user, secret)


def complete_sign_in(user: User, target: str | None) -> Response:
    """Record the sign-in, then start a new session for this user."""
    throttle.signed_in(user, request.remote_addr)
    user.last_login_at = utcnow()
    record("login.success", user=user, target=user.email)
    commit()  # no audit record, no sign-in
    session.clear()  # a new session: nothing from before the sign-in carries over
    login_user(user, remember=False)
    session[LOGIN_AT] = session[SEEN_AT] = int(now())
    return redirect(target or url_for(".inbox"), code=303)


def _pending_sign_in() -> tuple[dict[str, Any], User | None]:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or now() - pending.get("at", 0) > PENDING_LIFETIME:
        return {}, None
    return pending, load_user(str(pending.get("user", "")))


# --- Views ---------------------------------------------------------------------------------------


def _form_status(form: Any) -> int:
    """400 for a missing or expired CSRF token (the page says to try again), 422 for the rest."""
    if request.method != "POST":
        return 200
    return 400 if form.csrf_token.errors else 422


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limit
@csrf.exempt  # the form checks its own token, so an expired page can say so beside the form
def login() -> Response | tuple[str, int]:
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated and not end_expired_session():
        return redirect(target or url_for(".inbox"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form), _form_status(form)
    user = db.session.scalar(select(User).where(User.email == form.email.data))
    verdict = throttle.check(user, request.remote_addr)
    if not verdict.allowed:
        refuse(user, verdict, "password")
        return _throttled("admin/login.html", form, verdict)
    if not password_matches(user, form.password.data) or not user.active:
        detail = {"account": "disabled"} if user is not None and not user.active else {}
        record_failure(user, "password", **detail)
        form.email.errors.append(SIGN_IN_FAILED)
        return render_template("admin/login.html", form=form), 200
    if user.totp_secret or current_app.config["REQUIRE_2FA"]:
        # The password was right: take its count back, but this address starts afresh only
        # once the code is right too (a known password must not buy unlimited code guesses).
        throttle.forgive(user, request.remote_addr)
        commit()
        session.clear()
        session[PENDING] = {"user": user.get_id(), "at": int(now()), "next": target}
        return redirect(url_for(".login_code" if user.totp_secret else ".login_setup"), code=303)
    return complete_sign_in(user, target)


def _throttled(template: str, form: Any, verdict: throttle.Verdict, **context: Any) -> tuple:
    """The page again, saying that signing in is paused (429)."""
    context.update(throttled=verdict.reason, wait=verdict.wait)
    return render_template(template, form=form, **context), 429


@bp.route("/login/code", methods=["GET", "POST"])
@sign_in_limit
@csrf.exempt
def login_code() -> Response | tuple[str, int]:
    pending, user = _pending_sign_in()
    if user is None or not user.totp_secret:
        return redirect(url_for(".login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("admin/login_code.html", form=form), _form_status(form)
    verdict = throttle.check(user, request.remote_addr)
    if not verdict.allowed:
        refuse(user, verdict, "code")
        return _throttled("admin/login_code.html", form, verdict)
    if totp.claim_code(db.session, user, form.code.data):
        session.pop(PENDING, None)
        return complete_sign_in(user, pending.get("next"))
    db.session.rollback()
    record_failure(user, "code")
    form.code.errors.append(CODE_FAILED)
    return render_template("admin/login_code.html", form=form), 200


@bp.get("/login/two-factor")
def login_setup() -> Response | str:
    """REQUIRE_2FA, the right password and no authenticator: only a set-up link leads on."""
    _, user = _pending_sign_in()
    if user is None or user.totp_secret or not current_app.config["REQUIRE_2FA"]:
        return redirect(url_for(".login"))
    return render_template("admin/login_setup.html")


@bp.route("/setup/<token>", methods=["GET", "POST"])
@sign_in_limit
@csrf.exempt
def setup_link(token: str) -> Response | tuple[str, int]:
    """A one-time set-up link: the account's password, then a code from the new authenticator."""
    user = totp.setup_link_user(db.session, token)
    if user is None:
        return render_template("admin/setup_link.html", invalid=True), 404
    link = totp.token_hash(token)
    confirmed = session.get(SETUP_CONFIRMED)
    password_confirmed = (
        isinstance(confirmed, dict)
        and confirmed.get("link") == link
        and now() - confirmed.get("at", 0) <= PENDING_LIFETIME
        and user.totp_pending is not None
    )
    if not password_confirmed:
        return _setup_password_step(user, link)
    return _setup_code_step(user, link)


def _setup_password_step(user: User, link: str) -> Response | tuple[str, int]:
    form = SetupForm()
    if not form.validate_on_submit():
        page = render_template("admin/setup_link.html", user=user, password_form=form)
        return page, _form_status(form)
    verdict = throttle.check(user, request.remote_addr)
    if not verdict.allowed:
        refuse(user, verdict, "set-up link")
        return _throttled("admin/setup_link.html", None, verdict, user=user, password_form=form)
    if not user.check_password(form.password.data):
        record_failure(user, "set-up link")
        form.password.errors.append("The password is not right")
        return render_template("admin/setup_link.html", user=user, password_form=form), 200
    throttle.forgive(user, request.remote_addr)
    # A new secret each time the password is confirmed: whoever saw the page before does not
    # know the one that will be turned on.
    totp.new_pending_secret(user)
    commit()
    session[SETUP_CONFIRMED] = {"link": link, "at": int(now())}
    return redirect(request.path, code=303)


def _setup_code_step(user: User, link: str) -> Response | tuple[str, int]:
    secret = totp.pending_secret(user)
    form = CodeForm()
    context = {"user": user, "code_form": form, **provisioning(user, secret)}
    if not form.validate_on_submit():
        return render_template("admin/setup_link.html", **context), _form_status(form)
    verdict = throttle.check(user, request.remote_addr)
    if not verdict.allowed:
        refuse(user, verdict, "set-up code")
        return _throttled("admin/setup_link.html", None, verdict, **context)
    if totp.confirm_pending(db.session, user, form.code.data, setup_token_hash=link):
        record("user.2fa_enabled", user=user, target=user.email, detail={"by": "set-up link"})
        db.session.refresh(user)
        session.pop(SETUP_CONFIRMED, None)
        return complete_sign_in(user, None)
    db.session.rollback()
    record_failure(user, "set-up code")
    form.code.errors.append(CODE_FAILED)
    return render_template("admin/setup_link.html", **context), 200


@bp.post("/logout")
def logout() -> Response:
    user = acting_user()
    user.end_sessions()  # every session of this user ends, including copies of this cookie
    record("logout", user=user, target=user.email)
    commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for(".login"), code=303)


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


def _too_many(page: Response | str | tuple) -> tuple:
    flash("Too many failed attempts. Try again later.", "error")
    return page, 429


@bp.post("/account/password")
def change_password() -> Response | tuple[str, int]:
    user = acting_user()
    form = PasswordChangeForm(account_email=user.email)
    if form.validate():
        right = _check_own_password(user, form.current_password.data, "password change")
        if isinstance(right, throttle.Verdict):
            return _too_many(_account_page(password_form=form))
        if not right:
            form.current_password.errors.append("Your current password is not right")
        else:
            user.set_password(form.new_password.data)  # replaces the session token
            record("user.password", target=user.email)
            commit()
            login_user(user, remember=False)  # this session carries the new token; others end
            flash("Your password was changed. You were signed out everywhere else.", "success")
            return redirect(url_for(".account"), code=303)
    return _account_page(password_form=form), 422


@bp.route("/account/two-factor", methods=["GET", "POST"])
def two_factor() -> Response | tuple[str, int] | str:
    """Turn two-factor sign-in on: the pending secret is kept encrypted in the database."""
    user = acting_user()
    if user.totp_secret:
        return redirect(url_for(".account"))
    if current_app.config["REQUIRE_2FA"]:
        # This session was opened with a password alone: it may not choose the authenticator.
        return render_template("admin/two_factor.html", needs_link=True)
    secret = totp.pending_secret(user)
    commit()
    form = TwoFactorOnForm()
    if form.validate_on_submit():
        if totp.confirm_pending(db.session, user, form.code.data):
            record("user.2fa_enabled", target=user.email)
            commit()
            db.session.refresh(user)
            login_user(user, remember=False)  # this session carries the new token; others end
            flash("Two-factor sign-in is on. You were signed out everywhere else.", "success")
            return redirect(url_for(".account"), code=303)
        db.session.rollback()
        form.code.errors.append(CODE_FAILED)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/two_factor.html", form=form, **provisioning(user, secret)), status


@bp.post("/account/two-factor/off")
def two_factor_off() -> Response | tuple[str, int]:
    """Turn two-factor sign-in off: the password and a current code, then other sessions end."""
    user = acting_user()
    form = TwoFactorOffForm()
    if current_app.config["REQUIRE_2FA"]:
        abort(403)
    if form.validate():
        if user.totp_secret and not form.code.data:
            form.code.errors.append("Enter the 6-digit code from your authenticator app")
            return _account_page(off_form=form), 422
        # The same throttle as signing in: a taken-over session must not try passwords freely.
        right = _check_own_password(user, form.password.data, "two-factor off")
        if isinstance(right, throttle.Verdict):
            return _too_many(_account_page(off_form=form))
        if not right:
            form.password.errors.append("Your current password is not right")
        elif user.totp_secret and not totp.claim_code(db.session, user, form.code.data):
            db.session.rollback()
            record_failure(user, "two-factor off code")
            form.code.errors.append(CODE_FAILED)
        else:
            user.totp_secret = None
            user.totp_last_step = None
            user.totp_pending = None
            user.end_sessions()
            record("user.2fa_disabled", target=user.email)
            commit()
            login_user(user, remember=False)  # this session carries the new token; others end
            flash("Two-factor sign-in is off. You were signed out everywhere else.", "success")
            return redirect(url_for(".account"), code=303)
    return _account_page(off_form=form), 422


@bp.route("/confirm-password", methods=["GET", "POST"])
@sign_in_limit
def step_up() -> Response | tuple[str, int]:
    """An admin enters their password again before a sensitive account change."""
    user = acting_user()
    target = safe_next(request.args.get("next")) or url_for(".users")
    form = StepUpForm()
    status = 200
    if form.validate_on_submit():
        right = _check_own_password(user, form.password.data, "step-up")
        if isinstance(right, throttle.Verdict):
            return _too_many(render_template("admin/step_up.html", form=form))
        if right:
            commit()
            session[STEP_UP_AT] = int(now())
            return redirect(target, code=303)
        form.password.errors.append("Your password is not right")
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("admin/step_up.html", form=form), status
