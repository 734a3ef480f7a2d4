"""Commands for operators: flask --app portal <command>."""

import logging
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path

import click
from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import Select, delete, func, select

from . import audit, exports, outbox
from .admin.passwords import password_problem
from .extensions import db
from .models import ROLES, STATUSES, Note, OutboxMessage, Submission, User, utcnow


def register(app: Flask) -> None:
    """Attach the portal's command groups to the app."""
    app.cli.add_command(outbox_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(purge_command)


# --- flask --app portal outbox run | status -------------------------------------------------------

outbox_cli = AppGroup("outbox", help="Deliver queued email, and show the queue.")


@outbox_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
def outbox_run(once: bool) -> None:
    """Deliver queued email until stopped (Ctrl-C or SIGTERM finish the current message first)."""
    logger = logging.getLogger(outbox.__name__)
    # Each delivery attempt is worth a line in the worker's output, unless LOG_LEVEL says less.
    if not logger.hasHandlers():
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if logging.getLogger("portal").level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    worker = outbox.Worker()
    config = current_app.config
    if float(config["OUTBOX_LEASE"]) < 3 * float(config["OUTBOX_POLL_INTERVAL"]):
        # The lease is renewed every third of it: shorter than a few polls, a busy database
        # could let another worker take a message over while this one is still sending it.
        logger.warning("OUTBOX_LEASE should be at least 3 x OUTBOX_POLL_INTERVAL")
    if config["MAIL_SERVER"]:
        if "localhost" in str(config["FRONT_DESK_EMAILS"]):
            logger.warning("FRONT_DESK_EMAILS still holds the placeholder: set the real addresses")
    else:
        logger.info("no MAIL_SERVER: writing messages to %s/mail/", current_app.instance_path)

    def stop(signum: int, frame: object) -> None:
        worker.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        handled = worker.run(once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if once:
        click.echo(f"{handled} message(s) handled")


@outbox_cli.command("status")
def outbox_status() -> None:
    """Print how many messages are in each status and the age of the oldest pending one."""
    counts = outbox.status_counts(db.session)
    for status, count in counts.items():
        click.echo(f"{status:<9} {count}")
    oldest = outbox.oldest_pending(db.session)
    if oldest is None:
        click.echo("oldest pending: none")
    else:
        click.echo(f"oldest pending: {_age(utcnow() - oldest)} (queued {_utc(oldest)})")


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


# --- flask --app portal users create | list | disable | enable | set-password -------------------

users_cli = AppGroup("users", help="Manage staff accounts.")


def _ask_password(email: str) -> str:
    """Ask twice (on a terminal, hidden); from a pipe, read the two lines of standard input."""
    # getpass would read from the terminal even when a script pipes the password in.
    password = click.prompt(
        "Password",
        hide_input=sys.stdin.isatty(),
        confirmation_prompt="Repeat the password",
    )
    problem = password_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    return password


def _find_user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
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
    if db.session.scalar(select(User).where(User.email == email)) is not None:
        raise click.ClickException(f"there is already an account for {email}")
    user = User(email=email, role=role)
    user.set_password(_ask_password(email))
    db.session.add(user)
    audit.record(db.session, "user.created", target=email, detail={"role": role})
    db.session.commit()
    click.echo(f"Created the {role} account {email}.")


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
    user = _find_user(email)
    user.active = False
    user.end_sessions()
    audit.record(db.session, "user.disabled", target=user.email)
    db.session.commit()
    click.echo(f"Disabled {user.email}; its sessions have ended.")


@users_cli.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Enable a disabled account again."""
    user = _find_user(email)
    user.active = True
    audit.record(db.session, "user.enabled", target=user.email)
    db.session.commit()
    click.echo(f"Enabled {user.email}.")


@users_cli.command("set-password")
@click.argument("email")
def users_set_password(email: str) -> None:
    """Set a new password (asked twice); every session of the account ends."""
    user = _find_user(email)
    user.set_password(_ask_password(user.email))
    audit.record(db.session, "user.password", target=user.email)
    db.session.commit()
    click.echo(f"Password changed for {user.email}; its sessions have ended.")


# --- flask --app portal export --format csv|xlsx|json [--form] [--since] [--until] -o FILE ------

ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command("export")
@with_appcontext
@click.option("--format", "fmt", type=click.Choice(sorted(exports.FORMATS)), required=True)
@click.option("--form", type=click.Choice(sorted(exports.FORMS)), help="One form only.")
@click.option("--since", type=ISO_DATE, help="First day, YYYY-MM-DD, practice time.")
@click.option("--until", type=ISO_DATE, help="Last day (inclusive), YYYY-MM-DD, practice time.")
@click.option("--status", type=click.Choice(list(STATUSES)), help="One status only.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File."
)
def export_command(
    fmt: str,
    form: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    output: Path,
) -> None:
    """Export submissions to a file, as the staff area's Export page does (and audited)."""
    filters = exports.Filters(
        form=form,
        since=since.date() if since else None,
        until=until.date() if until else None,
        status=status,
    )
    zone = current_app.extensions["practice"].zone
    count, upper_id = exports.snapshot(db.session, filters, zone)
    detail = {**filters.describe(), "format": fmt, "rows": count, "file": str(output)}
    audit.record(db.session, "export", detail=detail)
    db.session.commit()
    chunks = exports.export(
        db.session,
        filters,
        fmt,
        zone,
        upper_id=upper_id,
        batch_size=current_app.config["EXPORT_BATCH_SIZE"],
    )
    # Patient data: readable by the owner only.
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    click.echo(f"{count} submission(s) written to {output}")


# --- flask --app portal purge --older-than DAYS [--dry-run] ------------------------------------

PURGE_BATCH = 500


@click.command("purge")
@with_appcontext
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=None,
    help="Days to keep (default: the RETENTION_DAYS setting).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def purge_command(days: int | None, dry_run: bool) -> None:
    """Delete submissions older than DAYS with their notes and emails; the audit trail stays."""
    days = days if days is not None else current_app.config["RETENTION_DAYS"]
    if not isinstance(days, int) or days < 1:
        # A setting of 0 (or a typo) must never mean "delete every submission".
        raise click.UsageError(
            f"RETENTION_DAYS must be a whole number of days, 1 or more: {days!r}"
        )
    cutoff = utcnow() - timedelta(days=days)
    old = select(Submission.id, Submission.reference).where(Submission.created_at < cutoff)
    counts = {"submissions": 0, "notes": 0, "emails": 0}
    last_id = 0
    while batch := db.session.execute(
        old.where(Submission.id > last_id).order_by(Submission.id).limit(PURGE_BATCH)
    ).all():
        last_id = batch[-1].id
        ids = [row.id for row in batch]
        references = [row.reference for row in batch]
        notes = select(Note).where(Note.submission_id.in_(ids))
        emails = select(OutboxMessage).where(OutboxMessage.reference.in_(references))
        if dry_run:
            counts["notes"] += _count(notes)
            counts["emails"] += _count(emails)
            counts["submissions"] += len(ids)
            continue
        counts["notes"] += db.session.execute(
            delete(Note).where(Note.submission_id.in_(ids))
        ).rowcount
        counts["emails"] += db.session.execute(
            delete(OutboxMessage).where(OutboxMessage.reference.in_(references))
        ).rowcount
        counts["submissions"] += db.session.execute(
            delete(Submission).where(Submission.id.in_(ids))
        ).rowcount
    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
    if dry_run:
        click.echo(f"Would delete {summary} received before {cutoff:%Y-%m-%d %H:%M} UTC.")
        return
    audit.record(
        db.session,
        "purge",
        detail={"older_than_days": days, "cutoff": cutoff.isoformat(), **counts},
    )
    db.session.commit()  # the deletions and their audit record, together or not at all
    click.echo(f"Deleted {summary} received before {cutoff:%Y-%m-%d %H:%M} UTC.")


def _count(statement: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
