"""Logs: one line per request, as text or JSON, and no patient data in any line."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Submission

from .admin_helpers import ADMIN, make_user, sign_in
from .helpers import VALID_APPOINTMENT, VALID_CONTACT, form_tokens

# Typed into every field a patient fills in; must never appear in any log line.
CANARY = "Zqxcanary"
CANARY_EMAIL = "zqxcanary.patient@example.com"
CANARY_PHONE = ("(617) 555-0147", "6175550147", "555-0147")


def request_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "portal.requests"]


def test_one_log_line_per_request(client, caplog, post_appointment):
    caplog.set_level(logging.INFO)
    client.get("/")
    client.get("/static/css/portal.css").close()
    client.get("/no-such-page")
    post_appointment()  # its GET of the form, then the POST
    records = request_records(caplog)
    seen = [(r.fields["method"], r.fields["path"], r.fields["status"]) for r in records]
    assert seen == [
        ("GET", "/", 200),
        ("GET", "/static/css/portal.css", 200),
        ("GET", "/no-such-page", 404),
        ("GET", "/request-an-appointment", 200),
        ("POST", "/request-an-appointment", 303),
    ]
    for record in records:
        assert record.fields["duration_ms"] >= 0
        assert record.fields["client"] == "127.0.0.1"


def test_query_strings_are_left_out_of_the_request_line(client, caplog):
    caplog.set_level(logging.INFO)
    client.get(f"/?search={CANARY}&phone=6175550147")
    (record,) = request_records(caplog)
    assert record.fields["path"] == "/"
    assert CANARY not in record.getMessage()


def test_text_lines_on_standard_error(client, capsys):
    capsys.readouterr()
    client.get("/contact-us")
    lines = capsys.readouterr().err.splitlines()
    line = next(line for line in lines if "portal.requests" in line)
    assert " INFO portal.requests GET /contact-us 200 " in line
    assert line.endswith(" 127.0.0.1")


def test_json_lines_when_the_setting_asks_for_them(settings, make_app, capsys):
    settings["LOG_FORMAT"] = "json"
    client = make_app().test_client()
    capsys.readouterr()
    client.get("/contact-us")
    client.get("/no-such-page")
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    requests = [entry for entry in entries if entry["logger"] == "portal.requests"]
    assert [(e["method"], e["path"], e["status"]) for e in requests] == [
        ("GET", "/contact-us", 200),
        ("GET", "/no-such-page", 404),
    ]
    assert {"time", "level", "message", "duration_ms", "size", "client"} <= set(requests[0])
    assert requests[0]["time"].endswith("Z") and requests[0]["level"] == "INFO"


def test_unknown_log_format_is_refused(settings, app, make_app):
    settings["LOG_FORMAT"] = "xml"
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        make_app()


def everything_logged(caplog, capsys) -> list[str]:
    """Every line any logger wrote (except the test's own SMTP server), and all of stderr."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines() + captured.out.splitlines()
    for record in caplog.records:
        if record.name.startswith("mail.log"):  # aiosmtpd, standing in for the mail provider
            continue
        lines.append(f"{record.name} {record.getMessage()} {getattr(record, 'fields', '')}")
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return lines


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_patient_data_in_any_log_line(settings, log_format, make_app, tmp_path, caplog, capsys):
    """A canary typed into every patient field is in no log line: the forms and their errors,
    the delivery of the emails, and the staff finding, reading and exporting the request."""
    settings.update(
        LOG_FORMAT=log_format,
        SUBMISSION_RATE_LIMIT="8 per minute",
        FORM_POST_RATE_LIMIT="12 per minute",
        NOTIFY_INCLUDE_DETAILS=True,  # the email may carry details; the logs still must not
    )
    app = make_app()
    with app.app_context():
        db.create_all()
    client = app.test_client()
    # The same portal with its database gone; built now, since building an app sets log levels.
    down = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    ).test_client()
    down.environ_base["REMOTE_ADDR"] = "127.0.0.2"  # not yet rate limited, unlike 127.0.0.1
    caplog.set_level(logging.DEBUG)
    for name in ("portal", "flask-limiter"):
        caplog.set_level(logging.DEBUG, logger=name)
    capsys.readouterr()

    appointment = {
        **VALID_APPOINTMENT,
        "first_name": CANARY,
        "last_name": f"O'{CANARY}",
        "email": CANARY_EMAIL,
        "contact_method": "email",
        "phone": CANARY_PHONE[0],
        "insurance": f"{CANARY} Health",
        "referring_physician": f"Dr. {CANARY}",
        "reason": f"{CANARY} knee pain",
    }
    contact = {
        **VALID_CONTACT,
        "name": CANARY,
        "email": CANARY_EMAIL,
        "phone": CANARY_PHONE[0],
        "message": f"{CANARY} question",
    }
    tokens = form_tokens(client, "/request-an-appointment")
    assert client.post("/request-an-appointment", data={**appointment, **tokens}).status_code == 303
    # the same rendered form again (a double click), an invalid form, a missing CSRF token
    assert client.post("/request-an-appointment", data={**appointment, **tokens}).status_code == 303
    invalid = {**appointment, **form_tokens(client, "/request-an-appointment")}
    invalid["date_of_birth-day"] = "99"
    assert client.post("/request-an-appointment", data=invalid).status_code == 422
    assert client.post("/request-an-appointment", data=appointment).status_code == 400
    contact_tokens = form_tokens(client, "/contact-us")
    assert client.post("/contact-us", data={**contact, **contact_tokens}).status_code == 303
    honeypot = {**contact, **form_tokens(client, "/contact-us"), "portal_hp": CANARY}
    client.post("/contact-us", data=honeypot)
    client.get(f"/contact-us?name={CANARY}")
    while client.post("/contact-us", data=contact).status_code != 429:
        pass
    client.get("/healthz")

    # Delivery: the worker renders and sends (here: writes) every queued message.
    result = app.test_cli_runner().invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "instance" / "mail").glob("*.eml"))

    # The front desk finds the patient by name, opens the request and exports it.
    make_user(app, ADMIN, role="admin")
    staff = app.test_client()
    assert sign_in(staff, ADMIN).status_code in (302, 303)
    with app.app_context():
        reference = db.session.scalar(select(Submission.reference).limit(1))
    assert CANARY in staff.get(f"/admin/?q={CANARY}").get_data(as_text=True)
    assert staff.get(f"/admin/submissions/{reference}").status_code == 200
    assert CANARY in staff.get("/admin/export.csv").get_data(as_text=True)

    # The database down while a patient submits.
    data = {**appointment, **form_tokens(down, "/request-an-appointment")}
    assert down.post("/request-an-appointment", data=data).status_code == 503

    lines = everything_logged(caplog, capsys)
    assert sum("portal.requests" in line for line in lines) >= 10
    leaks = [
        line
        for line in lines
        if any(secret.lower() in line.lower() for secret in (CANARY, CANARY_EMAIL, *CANARY_PHONE))
        or "+16175550147" in line
    ]
    assert leaks == []
