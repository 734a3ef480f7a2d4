"""Commands for operators: flask --app portal <command>."""

import logging
import signal
from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import outbox
from .extensions import db
from .models import utcnow


def register(app: Flask) -> None:
    """Attach the portal's command groups to the app."""
    app.cli.add_command(outbox_cli)


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
    if float(config["OUTBOX_LEASE"]) < 10 * float(config["MAIL_TIMEOUT"]):
        # A send is several SMTP round trips, each allowed MAIL_TIMEOUT: a lease shorter than
        # that lets another worker take a message over while this one is still sending it.
        logger.warning("OUTBOX_LEASE should be at least 10 x MAIL_TIMEOUT")
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

