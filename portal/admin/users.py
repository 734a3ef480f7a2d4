"""Admins manage staff accounts: list, add, disable and enable them."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import User
from . import bp
from .auth import acting_user, commit, record
from .forms import NewUserForm, UserActionForm


def users_page(form: NewUserForm | None = None, status: int = 200) -> tuple[str, int]:
    users = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template(
        "admin/users.html",
        users=users,
        form=form or NewUserForm(formdata=None),
        action_form=UserActionForm(formdata=None),
    ), status


@bp.get("/users")
def users() -> tuple[str, int]:
    return users_page()


@bp.post("/users")
def create_user() -> Response | tuple[str, int]:
    form = NewUserForm()
    if not form.validate():
        return users_page(form, 422)
    if db.session.scalar(select(User).where(User.email == form.email.data)) is not None:
        form.email.errors.append("There is already an account with this email address")
        return users_page(form, 422)
    user = User(email=form.email.data, role=form.role.data)
    user.set_password(form.password.data)
    db.session.add(user)
    record("user.created", target=user.email, detail={"role": user.role})
    commit()
    flash(f"Account {user.email} added.", "success")
    return redirect(url_for(".users"), code=303)


@bp.post("/users/disable")
def disable_user() -> Response:
    return _set_active(False)


@bp.post("/users/enable")
def enable_user() -> Response:
    return _set_active(True)


def _set_active(active: bool) -> Response:
    form = UserActionForm()
    user = db.session.scalar(select(User).where(User.email == (form.email.data or "")))
    if not form.validate() or user is None:
        flash("That account was not found.", "error")
    elif user.id == acting_user().id:
        flash("You cannot disable your own account.", "error")
    elif user.active != active:
        user.active = active
        user.end_sessions()  # a disabled user is signed out everywhere at once
        record("user.enabled" if active else "user.disabled", target=user.email)
        commit()
        flash(f"Account {user.email} {'enabled' if active else 'disabled'}.", "success")
    return redirect(url_for(".users"), code=303)
