"""Commands for operators: flask --app portal <command>."""

import logging
import os
import signal
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from . import digest, exports, outbox, storage
from .extensions import db
from .models import STATUSES, User, utcnow
from .outbox import alert, trouble
from .services import delivery, retention
from .services import exports as export_service
from .services.actions import Actor

# Who acts when an operator runs a command: the audit trail says "command line".
OPERATOR = Actor()


def register(app: Flask) -> None:
    """Attach the portal's command groups to the app."""
    # Imported here: cli_users takes OPERATOR from this module.
    from .cli_users import users_cli

    app.cli.add_command(outbox_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(welcome_command)
    app.cli.add_command(digest_cli)


# --- flask --app portal digest send [--dry-run] --------------------------------------------------

digest_cli = AppGroup("digest", help="The front desk's daily digest.")


@digest_cli.command("send")
@click.option("--dry-run", is_flag=True, help="Print the digest; queue and record nothing.")
def digest_send(dry_run: bool) -> None:
    """Send the daily digest now (it counts as today's), or print it with --dry-run."""
    if dry_run:
        click.echo(digest.preview())
        return
    outcome = digest.send_now()
    click.echo(f"Digest queued for {outcome.queued} recipient(s); the outbox worker sends it.")


# --- flask --app portal outbox run | status | retry-failed --------------------------------------

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
        # Created here, before the worker writes the first file, so that it is owner-only.
        storage.private_folder(Path(current_app.instance_path) / "mail")
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
    """Print the counts per status, the oldest pending age, and whether delivery is in trouble."""
    counts = outbox.status_counts(db.session)
    for status, count in counts.items():
        click.echo(f"{status:<9} {count}")
    oldest = outbox.oldest_pending(db.session)
    if oldest is None:
        click.echo("oldest pending: none")
    else:
        click.echo(f"oldest pending: {_age(utcnow() - oldest)} (queued {_utc(oldest)})")
    state = trouble.evaluate(db.session)
    if not state.active:
        click.echo("delivery: ok")
        return
    since = f" since {_utc(state.since)}" if state.since else ""
    click.echo(f"delivery: TROUBLE{since} ({', '.join(state.reasons)})")
    click.echo(f"  {alert.describe(state)}.")
    if state.server_answer:
        click.echo(f"  the mail server said: {state.server_answer}")
    if "notification_failed" in state.reasons:
        click.echo("  fix the cause, then: flask --app portal outbox retry-failed")


@outbox_cli.command("retry-failed")
def outbox_retry_failed() -> None:
    """Queue every failed email that nobody marked as handled again (audited, as the page does)."""
    count = delivery.retry_failed(db.session, OPERATOR)
    click.echo(f"{count} failed email(s) queued again.")


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


# --- flask --app portal export --format csv|xlsx|json|ndjson [--form] [--since] [--until] -o FILE

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
@click.option(
    "--force",
    is_flag=True,
    help="Replace FILE if it exists (a symbolic link is replaced, never written through).",
)
def export_command(
    fmt: str,
    form: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    output: Path,
    force: bool,
) -> None:
    """Export submissions to a new file, readable by you only (and audited)."""
    if not force and (output.exists() or output.is_symlink()):
        raise click.ClickException(
            f"{output} already exists: choose a new file name, or add --force to replace it"
        )
    filters = exports.Filters(
        form=form,
        since=since.date() if since else None,
        until=until.date() if until else None,
        status=status,
    )
    started = export_service.start(db.session, OPERATOR, filters, fmt, file=str(output))
    try:
        storage.write_private_file(output, started.chunks, replace=force)
    except FileExistsError as error:  # created since the check, by someone else
        message = f"{output} already exists: add --force to replace it"
        raise click.ClickException(message) from error
    click.echo(f"{started.rows} submission(s) written to {output}")


# --- flask --app portal purge --older-than DAYS [--dry-run] ------------------------------------

# What outlives a purge, said by the command itself so that an operator need not guess.
AUDIT_KEEPS = (
    "The audit trail is kept: who signed in, and who viewed, changed, resent or exported which "
    "submission (by reference), when and from which address, with the filters used (never the "
    "text of a search). It holds no patient's name, contact details or message."
)


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
    """Delete submissions older than DAYS with their notes and emails; the audit trail stays.

    The audit trail keeps who signed in, and who viewed, changed, resent or exported which
    submission (by reference), when and from where, with the filters used: no patient details.
    """
    days = days if days is not None else current_app.config["RETENTION_DAYS"]
    try:
        done = retention.purge(db.session, OPERATOR, days, dry_run=dry_run)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    summary = ", ".join(f"{n} {what}" for what, n in done.counts.items())
    said = "Would delete" if dry_run else "Deleted"
    click.echo(f"{said} {summary} received before {done.cutoff:%Y-%m-%d %H:%M} UTC.")
    click.echo(AUDIT_KEEPS)


# --- flask --app portal welcome: the first screen of `make run` -----------------------------------


@click.command("welcome")
@with_appcontext
def welcome_command() -> None:
    """Say where the pages, the staff area and the emails are, and how to make the first admin."""
    from . import development_base_url

    local = development_base_url()
    mail = current_app.config["MAIL_SERVER"]
    has_staff = db.session.scalar(select(func.count()).select_from(User)) or 0
    lines = [
        "",
        f"  {current_app.extensions['practice'].name}: the portal is starting.",
        "",
        f"  Patient pages   {local}/",
        f"                  {local}/request-an-appointment",
        f"                  {local}/contact-us",
        f"  Staff area      {local}/admin/",
    ]
    if not has_staff:
        lines += [
            "  First admin     in another terminal, in this folder:",
            "                  .venv/bin/portal users create you@practice.example --role admin",
        ]
    if mail:
        lines.append(f"  Email           sent through {mail}:{current_app.config['MAIL_PORT']}")
    else:
        folder = Path(current_app.instance_path) / "mail"
        lines.append(f"  Email           written as .eml files to {folder}/")
    lines += ["  Stop            Ctrl-C (stops the web server and the mail worker)", ""]
    click.echo("\n".join(lines))


# --- flask --app portal profile check -------------------------------------------------------------
# A plugin command (pyproject's flask.commands entry point), not one of the app's: it must work
# when the profile is so wrong that the app refuses to start.

profile_cli = click.Group("profile", help="The practice profile (instance/practice.toml).")


@profile_cli.command("check")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The profile to check (default: practice.toml in the instance folder).",
)
def profile_check(path: Path | None) -> None:
    """Validate the practice profile and say what is wrong with it, every problem at once."""
    from flask import Flask

    from .practice import ProfileError, check_profile

    # The portal's instance folder, found as create_app finds it, without starting the app.
    instance = Path(
        Flask("portal", instance_path=os.environ.get("PORTAL_INSTANCE_PATH")).instance_path
    )
    path = path or instance / "practice.toml"
    if not path.exists():
        click.echo(f"{path} does not exist: the portal uses the default profile.")
        return
    try:
        practice = check_profile(path, path.parent)
    except ProfileError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{path}: the profile is valid ({practice.name}).")
