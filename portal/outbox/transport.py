"""Where built messages go: an SMTP server (timeouts, verified TLS) or ``.eml`` files.

Messages are Flask-Mail's public ``Message``; the SMTP conversation is the standard library's
``smtplib``, one command at a time, so that every refusal says where it happened.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mail import BadHeaderError, Message, sanitize_address, sanitize_addresses

from ..storage import private_folder
from . import policy

if TYPE_CHECKING:
    from .worker import Claimed

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Where a batch of built messages goes: an SMTP server, or files."""

    def open(self) -> None: ...
    def is_open(self) -> bool: ...
    def send(self, message: Message, row: Claimed) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class SMTPSettings:
    """Where and how to reach the mail server (Flask-Mail's MAIL_* settings)."""

    server: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str | None
    password: str | None
    timeout: float


class SMTPTransport:
    """One SMTP conversation per batch, one command at a time, so a refusal names its stage.

    Built on the standard library's ``smtplib`` with a timeout on every operation and TLS that
    verifies the server's certificate; every failure is raised as a ``DeliveryError`` carrying
    the stage (connect, greeting, ehlo, starttls, auth, mail, rcpt, data) it happened at.
    """

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP = (
                smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout, context=context)
                if s.use_ssl
                else smtplib.SMTP(s.server, s.port, timeout=s.timeout)
            )
        except smtplib.SMTPConnectError as error:  # connected, but the greeting was not 220
            raise policy.DeliveryError(policy.GREETING, error) from error
        except Exception as error:
            raise policy.DeliveryError(policy.CONNECT, error) from error
        stage = policy.EHLO
        try:
            self._hello(smtp)
            if s.use_tls:
                stage = policy.STARTTLS
                code, text = smtp.starttls(context=context)
                if code != 220:
                    raise smtplib.SMTPResponseException(code, text)
                stage = policy.EHLO
                self._hello(smtp)
            if s.username and s.password:
                stage = policy.AUTH
                smtp.login(s.username, s.password)
        except Exception as error:
            smtp.close()
            raise policy.DeliveryError(stage, error) from error
        self.smtp = smtp

    @staticmethod
    def _hello(smtp: smtplib.SMTP) -> None:
        code, text = smtp.ehlo()
        if not 200 <= code <= 299:
            code, text = smtp.helo()
            if not 200 <= code <= 299:
                raise smtplib.SMTPHeloError(code, text)

    def is_open(self) -> bool:
        return self.smtp is not None and self.smtp.sock is not None

    def send(self, message: Message, row: Claimed) -> None:
        """MAIL FROM, RCPT TO for each recipient, DATA: the conversation smtplib.sendmail has."""
        if not self.is_open():
            self.open()
        smtp = self.smtp
        assert smtp is not None
        content = message.as_bytes()
        sender = sanitize_address(message.sender)
        options = list(message.mail_options)
        if smtp.does_esmtp and smtp.has_extn("size"):
            options.append(f"size={len(content)}")
        stage = policy.MAIL
        try:
            code, text = smtp.mail(sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, sender)
            stage = policy.RCPT
            for recipient in sanitize_addresses(message.send_to):
                code, text = smtp.rcpt(recipient, list(message.rcpt_options))
                if code not in (250, 251):
                    refused = {recipient: (code, text)}
                    raise smtplib.SMTPRecipientsRefused(refused)
            stage = policy.DATA
            code, text = smtp.data(content)
            if code != 250:
                raise smtplib.SMTPDataError(code, text)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as error:
            self._end_transaction(error)
            raise policy.DeliveryError(stage, error) from error
        except Exception as error:
            # A timeout or a disconnect: the conversation is over, and saying QUIT to a server
            # that stopped answering would only wait another MAIL_TIMEOUT.
            self.close(polite=False)
            raise policy.DeliveryError(stage, error) from error

    def _end_transaction(self, error: Exception) -> None:
        """After a refusal, RSET for the next message, or hang up if the server is closing."""
        codes = [getattr(error, "smtp_code", 0)] + [
            code for code, _ in getattr(error, "recipients", {}).values()
        ]
        if 421 in codes or self.smtp is None:
            self.close(polite=False)
            return
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close(polite=False)

    def close(self, polite: bool = True) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            if polite and smtp.sock is not None:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


class FileTransport:
    """No mail server configured: each message becomes an .eml file a person can open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        # Patient data may be written here: the folder is owner-only whatever the umask.
        private_folder(self.folder)

    def is_open(self) -> bool:
        return self.folder.is_dir()

    def send(self, message: Message, row: Claimed) -> None:
        if not self.is_open():
            self.open()
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
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return FileTransport(Path(current_app.instance_path) / "mail")
    settings = SMTPSettings(
        server=config["MAIL_SERVER"],
        port=int(config["MAIL_PORT"]),
        use_tls=bool(config["MAIL_USE_TLS"]),
        use_ssl=bool(config["MAIL_USE_SSL"]),
        username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"],
        timeout=float(config["MAIL_TIMEOUT"]),
    )
    return SMTPTransport(settings)


def build(row: Claimed) -> Message:
    """Render a claimed message into a Flask-Mail Message; any failure makes it a poison message.

    A message whose context names its ``language`` (the patient's acknowledgement) is rendered
    in it and says so in ``Content-Language``; any other is in the default language.
    """
    language = row.context.get("language")
    with force_locale(language.replace("-", "_") if language else "en"):
        body = render_template(f"{row.template}.txt", **row.context)
        html = render_template(f"{row.template}.html", **row.context)
    message = Message(
        subject=row.subject,
        recipients=[row.recipient],
        body=body,
        html=html,
        reply_to=row.reply_to,
        date=row.queued_at.timestamp(),
        extra_headers={"Content-Language": language} if language else None,
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
