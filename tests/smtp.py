"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, with answers a test can script.

``SMTPServer`` records every message it accepts, can refuse recipients or data with any SMTP
answer, can refuse the greeting, MAIL FROM, every RCPT TO or every DATA for the next N times (a
server that is wrong for a while, then recovers), can require AUTH with one user and password,
can hold a DATA command open (a server that stalls mid-message), and can be stopped and started
again on the same port (a server that is down, then back). ``StallingServer`` accepts
connections and never says a word.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd speaks plain SMTP: settings (and PORTAL_* variables) that point the portal at it must
# turn STARTTLS off and allow plain SMTP, which the portal otherwise refuses.
PLAIN_SMTP = {"MAIL_USE_TLS": False, "MAIL_ALLOW_PLAINTEXT": True}
PLAIN_SMTP_ENV = {"PORTAL_MAIL_USE_TLS": "false", "PORTAL_MAIL_ALLOW_PLAINTEXT": "true"}


def free_port() -> int:
    """A port nobody listens on: aiosmtpd's Controller needs a real number, not 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """One message the server accepted."""

    peer: tuple[str, int]  # the client's address and port: one per SMTP connection
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=policy.default)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Recorder:
    """The aiosmtpd handler: records what it accepts and answers what a test asks it to."""

    received: list[Received] = field(default_factory=list)
    # recipient address -> SMTP answer to its RCPT TO (e.g. "451 4.3.0 Try again later")
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    # recipient address -> SMTP answer to the end of DATA
    data_answers: dict[str, str] = field(default_factory=dict)
    # Seconds every DATA takes before it is answered (a slow server).
    delay: float = 0.0
    # While set, every DATA waits (the server stalls after the message was sent to it).
    hold: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    held: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # stage ("greeting", "mail", "rcpt", "data") -> answers still to give, one per command
    refusals: dict[str, list[str | None]] = field(default_factory=dict)
    # How many times each stage was reached (connections for "greeting").
    seen: Counter = field(default_factory=Counter)
    # Called (in the server's thread) after a message is accepted, before the 250 is sent.
    on_accept: Callable[[Received], None] | None = None
    # While the Controller starts, it connects once to check the server is up: not counted.
    starting: bool = False

    def refuse(self, stage: str, answer: str, times: int = 1, after: int = 0) -> None:
        """After `after` normal commands of `stage`, answer the next `times` with `answer`."""
        with self.lock:
            self.refusals.setdefault(stage, []).extend([None] * after + [answer] * times)

    def refusal(self, stage: str) -> str | None:
        """Count the command; the scripted answer for it, if one is left."""
        with self.lock:
            if self.starting:
                return None
            self.seen[stage] += 1
            answers = self.refusals.get(stage)
            return answers.pop(0) if answers else None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        answer = self.refusal("mail")
        if answer:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        answer = self.rcpt_answers.get(address) or self.refusal("rcpt")
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = Received(
            peer=tuple(session.peer[:2]),
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            content=bytes(envelope.original_content or envelope.content),
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold.is_set():
            with self.lock:
                self.held.append(message)
            self.holding.set()
            while self.hold.is_set():
                await asyncio.sleep(0.01)
            # The client may be long gone; what a stalled server finally does is not the point.
            return "451 4.3.0 Held too long"
        for address in envelope.rcpt_tos:
            if address in self.data_answers:
                return self.data_answers[address]
        answer = self.refusal("data")
        if answer:
            return answer
        with self.lock:
            self.received.append(message)
        if self.on_accept is not None:
            self.on_accept(message)
        return "250 Message accepted for delivery"


class ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP session, whose greeting can be a scripted refusal (then it hangs up)."""

    async def _handle_client(self) -> None:
        answer = self.event_handler.refusal("greeting")
        if answer:
            await self.push(answer)
            self.transport.close()
            return
        await super()._handle_client()


class ScriptedController(Controller):
    def factory(self) -> SMTP:
        return ScriptedSMTP(self.handler, **self.SMTP_kwargs)


def password_checker(user: str, password: str):
    """An aiosmtpd authenticator that accepts one user name and password (LOGIN and PLAIN)."""

    def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (user, password)
        return AuthResult(success=ok, handled=False)

    return check


class SMTPServer:
    """aiosmtpd's Controller on 127.0.0.1 at a port chosen once, so it can stop and come back."""

    def __init__(self, port: int | None = None, **controller_kwargs) -> None:
        self.port = port or free_port()
        self.handler = Recorder()
        self.controller_kwargs = controller_kwargs
        self.controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SMTPServer:
        # A stopped Controller has closed its event loop: each start gets a new one.
        self.controller = ScriptedController(
            self.handler, hostname="127.0.0.1", port=self.port, **self.controller_kwargs
        )
        self.handler.starting = True
        try:
            self.controller.start()
        finally:
            self.handler.starting = False
        return self

    def require_auth(self, user: str, password: str) -> None:
        """From now on, offer AUTH (over plain SMTP) and accept only this user and password."""
        self.stop()
        self.controller_kwargs.update(
            authenticator=password_checker(user, password), auth_require_tls=False
        )
        self.start()

    def stop(self) -> None:
        self.handler.hold.clear()
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least count messages were accepted; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)


class StallingServer:
    """Accepts TCP connections and never answers: not even the SMTP greeting."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.accepted = threading.Event()
        self.connections: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.05)
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)
            self.accepted.set()

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.listener.close()
        for connection in self.connections:
            connection.close()
