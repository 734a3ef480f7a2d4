"""Admins manage staff accounts: list, add, change roles, disable and enable them, and create
one-time two-factor set-up links.

Adding or promoting an admin, changing another account's role and disabling an admin ask for
the acting admin's password again (a step-up, valid STEP_UP_LIFETIME seconds): a session left
open, or taken over, cannot make a new admin by itself.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import User
from ..services import accounts
from ..validators import add_error, required_text
from . import bp
from .auth import step_up_fresh
from .forms import NewUserForm, RoleForm, UserActionForm
from .staff import current_staff, staff_actor

STEP_UP_NEEDED = "Enter your password again to add an admin, change a role or disable an admin."


def users_page(
    form: NewUserForm | None = None, status: int = 200, setup_link: tuple[str, str] | None = None
) -> tuple[str, int]:
    users = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template(
        "admin/users.html",
        users=users,
        form=form or NewUserForm(formdata=None),
        action_form=UserActionForm(formdata=None),
        step_up_fresh=step_up_fresh(),
        setup_link=setup_link,
    ), status


def ask_step_up() -> Response:
    """Send the admin to enter their password again, then back to the accounts page."""
    flash(STEP_UP_NEEDED, "info")
    return redirect(url_for(".step_up", next=url_for(".users")), code=303)


def back_to_users() -> Response:
    """The accounts page again (after a POST: 303)."""
    return redirect(url_for(".users"), code=303)


@bp.get("/users")
def users() -> tuple[str, int]:
    return users_page()


@bp.post("/users")
def create_user() -> Response | tuple[str, int]:
    form = NewUserForm()
    if not form.validate():
        return users_page(form, 422)
    if form.role.data == "admin" and not step_up_fresh():
        return ask_step_up()
    if accounts.find(db.session, required_text(form.email)) is not None:
        add_error(form.email, "There is already an account with this email address")
        return users_page(form, 422)
    user = accounts.create(
        db.session,
        staff_actor(),
        required_text(form.email),
        required_text(form.role),
        required_text(form.password),
    )
    flash(f"Account {user.email} added.", "success")
    return back_to_users()


def account_of(form: RoleForm | UserActionForm, *, active_only: bool = False) -> User | None:
    """The account a valid form names; None (and a message) for anything else."""
    user = db.session.scalar(select(User).where(User.email == (form.email.data or "")))
    if not form.validate() or user is None or (active_only and not user.active):
        flash("That account was not found.", "error")
        return None
    return user


@bp.post("/users/role")
def change_role() -> Response:
    form = RoleForm()
    user = account_of(form)
    if user is None:
        return back_to_users()
    if user.id == current_staff().id:
        flash("You cannot change your own role.", "error")
    elif not step_up_fresh():
        return ask_step_up()
    elif accounts.set_role(db.session, staff_actor(), user, required_text(form.role)):
        flash(f"{user.email} is now {'an admin' if user.role == 'admin' else 'staff'}.", "success")
    return back_to_users()


@bp.post("/users/disable")
def disable_user() -> Response:
    return _set_active(False)


@bp.post("/users/enable")
def enable_user() -> Response:
    return _set_active(True)


def _set_active(active: bool) -> Response:
    user = account_of(UserActionForm())
    if user is None:
        return back_to_users()
    if user.id == current_staff().id:
        flash("You cannot disable your own account.", "error")
    elif not active and user.is_admin and user.active and not step_up_fresh():
        return ask_step_up()
    elif accounts.set_active(db.session, staff_actor(), user, active):
        flash(f"Account {user.email} {'enabled' if active else 'disabled'}.", "success")
    return back_to_users()


@bp.post("/users/setup-link")
def create_setup_link() -> Response | tuple[str, int]:
    """A one-time link with which an account without an authenticator sets one up."""
    user = account_of(UserActionForm(), active_only=True)
    if user is None:
        return back_to_users()
    if user.totp_secret:
        flash(f"{user.email} already has two-factor sign-in.", "error")
        return back_to_users()
    link = accounts.setup_link(db.session, staff_actor(), user)
    # Shown on this page only, never flashed: a flash would put the link in the session cookie.
    return users_page(setup_link=(user.email, link))
