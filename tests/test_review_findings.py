"""Rules found missing in review: each test proves one of them."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Submission

from .admin_helpers import PASSWORD, STAFF, make_user, post, sign_in


def test_turning_two_factor_off_with_wrong_passwords_is_throttled_and_audited(app, client):
    """The password check behind "turn two-factor off" is no unthrottled password oracle."""
    make_user(app)
    sign_in(client)
    answers = [
        post(client, "/admin/account/two-factor/off", {"password": f"wrong guess {n:04d}"})
        for n in range(6)
    ]
    assert [a.status_code for a in answers] == [422] * 5 + [429]
    with app.app_context():
        failures = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login.failed")
        ).all()
    assert len(failures) == 5
    assert {(f.target, f.detail["step"]) for f in failures} == {(STAFF, "two-factor off")}
    # Even the right password is refused while the throttle holds.
    right = post(client, "/admin/account/two-factor/off", {"password": PASSWORD})
    assert right.status_code == 429


def test_eml_files_with_patient_data_are_readable_by_their_owner_only(
    app, post_appointment, runner
):
    """Like the CLI export, the .eml files (patient addresses, details) are mode 0600."""
    assert post_appointment().status_code == 303
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    files = list((Path(app.instance_path) / "mail").glob("*.eml"))
    assert len(files) == 2
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


def test_patient_email_cannot_add_recipients_or_a_body_to_the_mailto_link(app, client):
    """A valid address may hold ? & = (atext): in the link they are data, not mailto fields."""
    from .admin_helpers import add_submission

    address = "a?bcc=attacker@evil.example"
    make_user(app)
    sign_in(client)
    reference = add_submission(app, email=address)
    page = client.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert 'href="mailto:a%3Fbcc%3Dattacker@evil.example"' in page
    assert "mailto:a?" not in page


def test_purge_refuses_a_retention_setting_below_one_day(app, runner):
    with app.app_context():
        db.session.add(
            Submission(reference="APT-ABCDEFGH", form="contact", name="Keep Me", message="m")
        )
        db.session.commit()
    app.config["RETENTION_DAYS"] = 0
    result = runner.invoke(args=["purge"])
    assert result.exit_code != 0
    assert "RETENTION_DAYS must be a whole number of days, 1 or more" in result.output
    with app.app_context():
        assert db.session.query(Submission).count() == 1
