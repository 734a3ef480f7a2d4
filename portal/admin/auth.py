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

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from .. import totp
from ..extensions import csrf, db, limiter, login_manager
from ..models import User, utcnow
from ..services import accounts
from ..services.actions import record_event, staff_action
from ..validators import add_error, required_text
from . import bp, throttle
from .forms import CodeForm, LoginForm, SetupForm
from .staff import current_staff, staff_actor, visitor

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
    record_event(db.session, staff_actor(), "session.expired", detail={"reason": reason})
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


def _sign_in_event(user: User | None, action: str, detail: dict[str, str]) -> None:
    """Audit a sign-in step: the account when it exists, never what was typed otherwise."""
    actor = visitor(user, "" if user else UNKNOWN_ACCOUNT)
    target = user.email if user else None
    record_event(db.session, actor, action, target=target, detail=detail)


def refuse(user: User | None, verdict: throttle.Verdict, step: str) -> None:
    """Audit a refused attempt, once per address per window (the throttle says which one)."""
    if verdict.first_refusal:
        _sign_in_event(user, "login.blocked", {"step": step, "reason": verdict.reason})


def record_failure(user: User | None, step: str, **detail: str) -> None:
    """Audit a failed check: the account when it exists, never what was typed otherwise."""
    _sign_in_event(user, "login.failed", {"step": step, **detail})


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
    with staff_action(db.session, visitor(user), "login.success", target=user.email):
        throttle.signed_in(user, request.remote_addr)
        user.last_login_at = utcnow()
    # (no audit record, no sign-in: a failed commit raises before the session starts)
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
    # Checked for an unknown account too (a dummy hash), so both take as long.
    matches = password_matches(user, required_text(form.password))
    if user is None or not matches or not user.active:
        detail = {"account": "disabled"} if user is not None and not user.active else {}
        record_failure(user, "password", **detail)
        add_error(form.email, SIGN_IN_FAILED)
        return render_template("admin/login.html", form=form), 200
    if user.totp_secret or current_app.config["REQUIRE_2FA"]:
        # The password was right: take its count back, but this address starts afresh only
        # once the code is right too (a known password must not buy unlimited code guesses).
        throttle.forgive(user, request.remote_addr)
        db.session.commit()
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
    if totp.claim_code(db.session, user, required_text(form.code)):
        session.pop(PENDING, None)
        return complete_sign_in(user, pending.get("next"))
    db.session.rollback()
    record_failure(user, "code")
    add_error(form.code, CODE_FAILED)
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
    if not user.check_password(required_text(form.password)):
        record_failure(user, "set-up link")
        add_error(form.password, "The password is not right")
        return render_template("admin/setup_link.html", user=user, password_form=form), 200
    throttle.forgive(user, request.remote_addr)
    # A new secret each time the password is confirmed: whoever saw the page before does not
    # know the one that will be turned on.
    accounts.new_pending_secret(db.session, user)
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
    if accounts.enable_two_factor(
        db.session, visitor(user), user, required_text(form.code), setup_token_hash=link
    ):
        session.pop(SETUP_CONFIRMED, None)
        return complete_sign_in(user, None)
    record_failure(user, "set-up code")
    add_error(form.code, CODE_FAILED)
    return render_template("admin/setup_link.html", **context), 200


@bp.post("/logout")
def logout() -> Response:
    user = current_staff()
    with staff_action(db.session, staff_actor(user), "logout", target=user.email):
        user.end_sessions()  # every session of this user ends, including copies of this cookie
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for(".login"), code=303)
