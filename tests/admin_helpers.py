"""Helpers for the staff-area tests: accounts, signing in, CSRF tokens, stored submissions."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from portal.extensions import db
from portal.models import AuditEvent, Submission, User, new_reference

PASSWORD = "correct horse battery staple"
ADMIN = "admin@example.org"
STAFF = "frontdesk@example.org"
XSS = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def make_user(
    app: Flask,
    email: str = STAFF,
    role: str = "staff",
    password: str = PASSWORD,
    totp_secret: str | None = None,
) -> None:
    """Store an active account."""
    with app.app_context():
        user = User(email=email, role=role, totp_secret=totp_secret)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()


def csrf_token(client: FlaskClient, url: str = "/admin/login") -> str:
    """GET a page as a browser would and read its CSRF token."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def sign_in(
    client: FlaskClient, email: str = STAFF, password: str = PASSWORD, query: str = ""
) -> TestResponse:
    """Fill in the sign-in form and send it."""
    token = csrf_token(client, f"/admin/login{query}")
    return client.post(
        f"/admin/login{query}", data={"csrf_token": token, "email": email, "password": password}
    )


def post(
    client: FlaskClient, url: str, data: dict[str, Any] | None = None, page: str = "/admin/account"
) -> TestResponse:
    """POST a staff form with a CSRF token taken from a page of the staff area."""
    return client.post(url, data={"csrf_token": csrf_token(client, page), **(data or {})})


def add_submission(app: Flask, form: str = "appointment", **fields: Any) -> str:
    """Store a submission directly, as the patient form would have; returns its reference."""
    values: dict[str, Any] = {
        "form": form,
        "reference": new_reference(form),
        "created_at": datetime.now(UTC),
        "phone": "+16172531000",
        "email": "patient@example.com",
        "message": "Knee pain.",
    }
    if form == "appointment":
        values |= {
            "first_name": "Siobhán",
            "last_name": "O'Hara",
            "date_of_birth": date(1980, 3, 27),
            "contact_method": "phone",
            "specialty": "Total knee replacement",
        }
    else:
        values |= {"name": "山田 太郎", "topic": "Billing", "message": "A question about my bill."}
    values.update(fields)
    with app.app_context():
        db.session.add(Submission(**values))
        db.session.commit()
    return values["reference"]


def audit_events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    """The audit trail, oldest first (optionally one action only)."""
    with app.app_context():
        statement = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            statement = statement.where(AuditEvent.action == action)
        events = list(db.session.scalars(statement))
        db.session.expunge_all()
        return events


def stored(app: Flask, reference: str) -> Submission:
    """The stored submission, read afresh."""
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.reference == reference))
        db.session.expunge_all()
        return submission


class _BidiIsolation(HTMLParser):
    """Collects each text node with whether an element around it isolates it from the page."""

    # Elements with no end tag: never on the stack of open elements.
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    # Text in these is laid out on its own (a form control, the window title), never in a line.
    OWN_PARAGRAPH = {"bdi", "textarea", "title", "option"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, bool]] = []
        self.texts: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            isolating = tag in self.OWN_PARAGRAPH or any(name == "dir" for name, _ in attrs)
            self.open.append((tag, isolating))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        self.texts.append((data, any(isolating for _, isolating in self.open)))


def isolation_of(page: str, text: str) -> tuple[int, int]:
    """How many text nodes of the page show `text`, and how many of them are not isolated
    (inside no <bdi> and no element with a dir attribute), so the text could reorder the page."""
    parser = _BidiIsolation()
    parser.feed(page)
    parser.close()
    shown = [isolated for data, isolated in parser.texts if text in data]
    return len(shown), shown.count(False)


def turn_on_two_factor(client: FlaskClient, offset: int = 0) -> str:
    """Turn on two-factor sign-in from the account page with the code of now (+ offset seconds)."""
    page = client.get("/admin/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="totp-key">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    response = post(
        client,
        "/admin/account/two-factor",
        {"code": pyotp.TOTP(secret).at(time.time() + offset)},
        page="/admin/account/two-factor",
    )
    assert response.status_code == 303
    return secret
