"""Where built messages go: an SMTP server (timeouts, verified TLS) or ``.eml`` files."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app, render_template
from flask_mail import BadHeaderError, Connection, Message

if TYPE_CHECKING:
    from .worker import Claimed

log = logging.getLogger(__name__)


class VerifiedConnection(Connection):
    """Flask-Mail's SMTP connection with a timeout on every operation and verified TLS.

    Flask-Mail opens ``smtplib.SMTP`` with no timeout (a stalled server hangs the worker for
    ever) and starts TLS without checking the server's certificate.
    """

    def __init__(self, mail: Any, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        host: smtplib.SMTP
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(
                self.mail.server, self.mail.port, timeout=self.timeout, context=context
            )
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=self.timeout)
        try:
            host.set_debuglevel(int(self.mail.debug))
            if self.mail.use_tls:
                host.starttls(context=context)
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            host.close()
            raise
        return host


class Transport(Protocol):
    """Where a batch of built messages goes: an SMTP server, or files."""

    def open(self) -> None: ...
    def is_open(self) -> bool: ...
    def send(self, message: Message, row: Claimed) -> None: ...
    def close(self) -> None: ...


class SMTPTransport:
    """One SMTP connection, opened when first needed and reused for the whole batch."""

    def __init__(self, mail: Any, timeout: float) -> None:
        self.connection = VerifiedConnection(mail, timeout)

    def open(self) -> None:
        self.connection.host = self.connection.configure_host()
        self.connection.num_emails = 0

    def is_open(self) -> bool:
        host = self.connection.host
        return host is not None and host.sock is not None

    def send(self, message: Message, row: Claimed) -> None:
        self.connection.send(message)

    def close(self) -> None:
        host, self.connection.host = self.connection.host, None
        if host is None:
            return
        try:
            if host.sock is not None:
                host.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            host.close()


class FileTransport:
    """No mail server configured: each message becomes an .eml file a person can open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def is_open(self) -> bool:
        return self.folder.is_dir()

    def send(self, message: Message, row: Claimed) -> None:
        name = row.template.rpartition("/")[2]
        stem = f"{row.queued_at:%Y%m%d-%H%M%S}-{row.reference or 'message'}-{name}-{row.id}"
        path = self.folder / f"{stem}.eml"
        # Written aside and renamed, so a crash never leaves half a message; a second delivery
        # of the same message replaces the file.
        partial = self.folder / f".{stem}.{os.getpid()}.tmp"
        # Patient data (an address, with NOTIFY_INCLUDE_DETAILS every field): owner only.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as fh:
            fh.write(message.as_bytes())
        os.replace(partial, path)
        log.info(
            "wrote outbox message %s (%s) to %s",
            row.id,
            row.reference,
            path,
            extra=_fields(row, "sent", file=path.name),
        )

    def close(self) -> None:
        pass


def transport_for_app() -> Transport:
    """SMTP when MAIL_SERVER is set, else .eml files in the instance folder's mail/."""
    mail = current_app.extensions["mail"]
    if not mail.server:
        return FileTransport(Path(current_app.instance_path) / "mail")
    return SMTPTransport(mail, current_app.config["MAIL_TIMEOUT"])


def build(row: Claimed) -> Message:
    """Render a claimed message into a Flask-Mail Message; any failure makes it a poison message."""
    message = Message(
        subject=row.subject,
        recipients=[row.recipient],
        body=render_template(f"{row.template}.txt", **row.context),
        html=render_template(f"{row.template}.html", **row.context),
        reply_to=row.reply_to,
        date=row.queued_at.timestamp(),
    )
    message.msgId = row.message_id
    if message.has_bad_headers():
        raise BadHeaderError("line break in a header")
    return message


def _fields(row: Claimed, status: str, **more: Any) -> dict[str, Any]:
    """Structured fields for the JSON log format: identifiers only, never an address."""
    return {
        "fields": {
            "outbox_message": row.id,
            "reference": row.reference,
            "message_id": row.message_id,
            "status": status,
            "attempt": row.attempts + 1,
            **more,
        }
    }
