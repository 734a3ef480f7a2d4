"""Signing in and out, two-factor codes, session lifetime, the sign-in throttle, the account page.

Sessions are Flask's signed cookies managed by Flask-Login, with three additions:
- the user's session token (replaced on sign-out, password change and disabling) is part of the
  id Flask-Login keeps, so every session of that user, and any copy of its cookie, ends at once;
- the session carries its sign-in and last-request times, checked on every staff request
  (SESSION_IDLE_TIMEOUT, SESSION_ABSOLUTE_TIMEOUT);
- failed sign-ins are audit events, and the throttle counts them in the database, so every web
  process sees the same count.
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pyotp
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from .. import audit
from ..extensions import csrf, db, login_manager
from ..models import AuditEvent, User, utcnow
from . import bp
from .forms import CodeForm, LoginForm, PasswordChangeForm, TwoFactorOffForm, TwoFactorOnForm

LOGIN_AT = "staff_login_at"
SEEN_AT = "staff_seen_at"
PENDING = "staff_pending_sign_in"
SETUP_SECRET = "staff_totp_setup"
# How long the second step of signing in (the code) may wait after the password.
PENDING_LIFETIME = 5 * 60

SIGN_IN_FAILED = "The email address or password is not right"
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


def too_many_failures(email: str, ip: str | None) -> bool:
    """True when this account, or this address, failed to sign in too often within the window."""
    config = current_app.config
    since = utcnow() - timedelta(seconds=config["LOGIN_FAILURE_WINDOW"])
    failures = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "login.failed", AuditEvent.created_at >= since)
    )
    limit = config["LOGIN_MAX_FAILURES"]
    if (db.session.scalar(failures.where(AuditEvent.target == email)) or 0) >= limit:
        return True
    return ip is not None and (db.session.scalar(failures.where(AuditEvent.ip == ip)) or 0) >= limit


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("a password that no account has", method=method)


def password_matches(user: User | None, password: str) -> bool:
    """Check the password; for an unknown account check a dummy hash, so both take as long."""
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return user.check_password(password)


def verify_code(user: User, secret: str, code: str) -> bool:
    """A TOTP code of this step or the one either side, each accepted once (no replay)."""
    totp = pyotp.TOTP(secret)
    clock = now()
    for drift in (0, -1, 1):
        moment = clock + drift * totp.interval
        if totp.verify(code, for_time=int(moment)):
            step = int(moment // totp.interval)
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def provisioning(user: User, secret: str) -> dict[str, str]:
    """What an authenticator app needs: the secret in groups of four, and the otpauth:// link."""
    practice = current_app.extensions["practice"]
    return {
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "uri": pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=practice.name),
    }


def complete_sign_in(user: User, target: str | None) -> Response:
    """Record the sign-in, then start a new session for this user."""
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
@csrf.exempt  # the form checks its own token, so an expired page can say so beside the form
def login() -> Response | tuple[str, int]:
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated and not end_expired_session():
        return redirect(target or url_for(".inbox"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form), _form_status(form)
    email, ip = form.email.data, request.remote_addr
    if too_many_failures(email, ip):
        record("login.blocked", actor=email, target=email)
        commit()
        return render_template("admin/login.html", form=form, throttled=True), 429
    user = db.session.scalar(select(User).where(User.email == email))
    if not password_matches(user, form.password.data) or not user.active:
        detail = {"step": "password"}
        if user is not None and not user.active:
            detail["account"] = "disabled"
        record("login.failed", actor=email, target=email, detail=detail)
        commit()
        form.email.errors.append(SIGN_IN_FAILED)
        return render_template("admin/login.html", form=form), 200
    if user.totp_secret or current_app.config["REQUIRE_2FA"]:
        session.clear()
        session[PENDING] = {"user": user.get_id(), "at": int(now()), "next": target}
        return redirect(url_for(".login_code" if user.totp_secret else ".login_setup"), code=303)
    return complete_sign_in(user, target)


@bp.route("/login/code", methods=["GET", "POST"])
@csrf.exempt
def login_code() -> Response | tuple[str, int]:
    pending, user = _pending_sign_in()
    if user is None or not user.totp_secret:
        return redirect(url_for(".login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("admin/login_code.html", form=form), _form_status(form)
    if too_many_failures(user.email, request.remote_addr):
        record("login.blocked", user=user, target=user.email)
        commit()
        return render_template("admin/login_code.html", form=form, throttled=True), 429
    if verify_code(user, user.totp_secret, form.code.data):
        session.pop(PENDING, None)
        return complete_sign_in(user, pending.get("next"))
    record("login.failed", user=user, target=user.email, detail={"step": "code"})
    commit()
    form.code.errors.append(CODE_FAILED)
    return render_template("admin/login_code.html", form=form), 200


@bp.route("/login/two-factor", methods=["GET", "POST"])
@csrf.exempt
def login_setup() -> Response | tuple[str, int]:
    """REQUIRE_2FA and no authenticator yet: set one up as the second step of signing in."""
    pending, user = _pending_sign_in()
    if user is None or user.totp_secret or not current_app.config["REQUIRE_2FA"]:
        return redirect(url_for(".login"))
    secret = pending.get("secret") or pyotp.random_base32()
    session[PENDING] = {**pending, "secret": secret}
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        if too_many_failures(user.email, request.remote_addr):
            record("login.blocked", user=user, target=user.email)
            commit()
            return render_template(
                "admin/login_setup.html", form=form, throttled=True, **provisioning(user, secret)
            ), 429
        if verify_code(user, secret, form.code.data):
            user.totp_secret = secret
            record("user.2fa_enabled", user=user, target=user.email)
            session.pop(PENDING, None)
            return complete_sign_in(user, pending.get("next"))
        record("login.failed", user=user, target=user.email, detail={"step": "code"})
        commit()
        form.code.errors.append(CODE_FAILED)
        status = 200
    elif request.method == "POST":
        status = _form_status(form)
    page = render_template("admin/login_setup.html", form=form, **provisioning(user, secret))
    return page, status


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


@bp.post("/account/password")
def change_password() -> Response | tuple[str, int]:
    user = acting_user()
    form = PasswordChangeForm()
    if form.validate():
        if too_many_failures(user.email, request.remote_addr):
            flash("Too many failed attempts. Try again later.", "error")
            return _account_page(password_form=form), 429
        if not user.check_password(form.current_password.data):
            record("login.failed", target=user.email, detail={"step": "password change"})
            commit()
            form.current_password.errors.append("Your current password is not right")
        elif form.new_password.data.lower() == user.email:
            form.new_password.errors.append("Password must not be your email address")
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
    user = acting_user()
    if user.totp_secret:
        return redirect(url_for(".account"))
    secret = session.get(SETUP_SECRET) or pyotp.random_base32()
    session[SETUP_SECRET] = secret
    form = TwoFactorOnForm()
    if form.validate_on_submit():
        if verify_code(user, secret, form.code.data):
            user.totp_secret = secret
            record("user.2fa_enabled", target=user.email)
            commit()
            session.pop(SETUP_SECRET, None)
            flash("Two-factor sign-in is on.", "success")
            return redirect(url_for(".account"), code=303)
        form.code.errors.append(CODE_FAILED)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/two_factor.html", form=form, **provisioning(user, secret)), status


@bp.post("/account/two-factor/off")
def two_factor_off() -> Response | tuple[str, int]:
    user = acting_user()
    form = TwoFactorOffForm()
    if current_app.config["REQUIRE_2FA"]:
        abort(403)
    if form.validate():
        # The same throttle as signing in: a taken-over session must not try passwords freely.
        if too_many_failures(user.email, request.remote_addr):
            flash("Too many failed attempts. Try again later.", "error")
            return _account_page(off_form=form), 429
        if user.check_password(form.password.data):
            user.totp_secret = None
            user.totp_last_step = None
            record("user.2fa_disabled", target=user.email)
            commit()
            flash("Two-factor sign-in is off.", "success")
            return redirect(url_for(".account"), code=303)
        record("login.failed", target=user.email, detail={"step": "two-factor off"})
        commit()
        form.password.errors.append("Your current password is not right")
    return _account_page(off_form=form), 422
