"""The staff accounts' commands: flask --app portal users <command>."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .cli import OPERATOR
from .extensions import db
from .models import ROLES, User
from .services import accounts

# --- flask --app portal users create | list | disable | enable | set-password | setup-link -------

users_cli = AppGroup("users", help="Manage staff accounts.")


def _ask_password(email: str) -> str:
    """Ask twice (on a terminal, hidden); from a pipe, read the two lines of standard input."""
    # getpass would read from the terminal even when a script pipes the password in.
    password = click.prompt(
        "Password",
        hide_input=sys.stdin.isatty(),
        confirmation_prompt="Repeat the password",
    )
    try:
        accounts.check_password(password, email)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    return password


@contextmanager
def _refused() -> Iterator[None]:
    """An account change the service refuses ends the command with its reason."""
    try:
        yield
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None


def _find_user(email: str) -> User:
    user = accounts.find(db.session, email)
    if user is None:
        raise click.ClickException(f"no account with the email address {email}")
    return user


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="staff or admin")
def users_create(email: str, role: str) -> None:
    """Create a staff account; asks for its password twice."""
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise click.ClickException(f"not an email address: {email}") from error
    if accounts.find(db.session, email) is not None:
        raise click.ClickException(f"there is already an account for {email}")
    with _refused():
        accounts.create(db.session, OPERATOR, email, role, _ask_password(email))
    click.echo(f"Created the {role} account {email}.")
    if current_app.config["REQUIRE_2FA"]:
        click.echo(f"Two-factor sign-in is required: flask --app portal users setup-link {email}")


@users_cli.command("list")
def users_list() -> None:
    """List every staff account."""
    users = db.session.scalars(select(User).order_by(User.email)).all()
    if not users:
        click.echo("No accounts yet: flask --app portal users create EMAIL --role admin")
        return
    click.echo(f"{'EMAIL':<40} {'ROLE':<6} {'ACCOUNT':<9} {'2FA':<4} LAST SIGN-IN (UTC)")
    for user in users:
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        state = "active" if user.active else "disabled"
        two_factor = "on" if user.totp_secret else "off"
        click.echo(f"{user.email:<40} {user.role:<6} {state:<9} {two_factor:<4} {last}")


@users_cli.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Disable an account and end its sessions everywhere."""
    _set_active(email, False, "Disabled {}; its sessions have ended.")


@users_cli.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Enable a disabled account again."""
    _set_active(email, True, "Enabled {}.")


def _set_active(email: str, active: bool, done: str) -> None:
    user = _find_user(email)
    accounts.set_active(db.session, OPERATOR, user, active)
    click.echo(done.format(user.email))


@users_cli.command("set-password")
@click.argument("email")
def users_set_password(email: str) -> None:
    """Set a new password (asked twice); every session of the account ends."""
    user = _find_user(email)
    accounts.set_password(db.session, OPERATOR, user, _ask_password(user.email))
    click.echo(f"Password changed for {user.email}; its sessions have ended.")


@users_cli.command("setup-link")
@click.argument("email")
def users_setup_link(email: str) -> None:
    """Print a one-time link (valid 72 hours) that sets up two-factor sign-in for the account."""
    user = _find_user(email)
    with _refused():
        link = accounts.setup_link(db.session, OPERATOR, user)
    hours = current_app.config["SETUP_LINK_LIFETIME"] // 3600
    click.echo(f"Set-up link for {user.email} (works once, for {hours} hours):")
    click.echo(link)
