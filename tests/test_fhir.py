"""FHIR R4: every submission as a Bundle (the mapping, validated), the staff download (audited,
linked from the submission page) and the FHIR NDJSON export (streamed, audited, same filters)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal import fhir
from portal.extensions import db
from portal.models import Submission
from portal.practice import Practice

from .admin_helpers import ADMIN, STAFF, add_submission, audit_events, make_user, sign_in
from .fhir_checks import validate_bundle

BASE = "http://127.0.0.1:5000"


def stored_submission(app, form: str) -> Submission:
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.form == form))
        db.session.expunge_all()
        return submission


def as_submission(**fields) -> SimpleNamespace:
    """A submission-like object for the pure mapping (fhir.py reads attributes only)."""
    values = {
        "reference": "APT-ABCDEFGH",
        "kind": "appointment",
        "created_at": datetime(2026, 3, 9, 14, 30, tzinfo=UTC),
        "first_name": "Zoë",
        "last_name": "García",
        "name": None,
        "date_of_birth": date(1961, 7, 4),
        "phone": "+16172531000",
        "email": "zoe@example.com",
        "contact_method": "email",
        "specialty": "Total hip replacement",
        "physician": None,
        "patient_type": "returning",
        "preferred_days": "Tuesday",
        "preferred_time": "afternoon",
        "insurance": None,
        "referring_physician": None,
        "topic": None,
        "message": "Hip pain.",
    }
    values.update(fields)
    return SimpleNamespace(**values)


@pytest.fixture
def admin(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


def test_appointment_request_is_a_bundle_of_patient_service_request_and_appointment(
    app, post_appointment
):
    assert post_appointment(physician="").status_code == 303
    submission = stored_submission(app, "appointment")
    bundle = fhir.bundle(submission, BASE, Practice())
    resources = validate_bundle(bundle, BASE, submission.reference)

    assert bundle["type"] == "collection"
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Patient",
        "ServiceRequest",
        "Appointment",
    ]
    patient, request, appointment = (
        resources["Patient"],
        resources["ServiceRequest"],
        resources["Appointment"],
    )
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle["entry"]}
    assert patient["name"] == [{"text": "Siobhán O'Hara", "family": "O'Hara", "given": ["Siobhán"]}]
    assert patient["birthDate"] == "1980-03-27"
    assert {"system": "phone", "value": "+16172531000", "rank": 1} in patient["telecom"]
    assert {"system": "email", "value": "siobhan@example.com"} in patient["telecom"]

    assert request["status"] == "draft" and request["intent"] == "proposal"
    assert request["subject"] == {"reference": urls["Patient"]}
    assert request["code"] == {"text": "Total knee replacement"}

    assert appointment["status"] == "proposed"
    assert appointment["basedOn"] == [{"reference": urls["ServiceRequest"]}]
    assert appointment["participant"] == [
        {"actor": {"reference": urls["Patient"]}, "required": "required", "status": "needs-action"}
    ]
    assert appointment["serviceType"] == [{"text": "Total knee replacement"}]
    assert appointment["specialty"] == [{"text": "Total knee replacement"}]
    assert appointment["reasonCode"] == [{"text": "Knee pain when running.\nWorse on stairs."}]
    assert appointment["comment"] == (
        "Preferred days: Monday, Thursday\n"
        "Preferred time of day: Morning\n"
        "New or returning patient?: New patient\n"
        "Insurance provider: Blue Cross\n"
        "Referring physician: Dr. Nguyễn"
    )
    assert appointment["created"] == submission.created_at.astimezone(UTC).isoformat(
        timespec="seconds"
    ).replace("+00:00", "Z")


def test_contact_message_is_a_bundle_of_patient_and_communication(app, post_contact):
    assert post_contact().status_code == 303
    submission = stored_submission(app, "contact")
    bundle = fhir.bundle(submission, BASE, Practice())
    resources = validate_bundle(bundle, BASE, submission.reference)

    assert set(resources) == {"Patient", "Communication"}
    patient_url = bundle["entry"][0]["fullUrl"]
    assert resources["Patient"]["name"] == [{"text": "山田 太郎"}]
    assert resources["Patient"]["telecom"] == [{"system": "email", "value": "taro@example.com"}]
    assert "birthDate" not in resources["Patient"]
    message = resources["Communication"]
    assert message["status"] == "completed"
    assert message["payload"] == [{"contentString": "A question about my bill."}]
    assert message["sender"] == {"reference": patient_url}
    assert message["topic"] == {"text": "Billing"}


def test_chosen_physician_is_an_appointment_participant_by_display():
    bundle = fhir.bundle(as_submission(physician="Dr. Ada Byron"), BASE, Practice())
    resources = validate_bundle(bundle, BASE, "APT-ABCDEFGH")
    participants = resources["Appointment"]["participant"]
    assert participants[1] == {"actor": {"display": "Dr. Ada Byron"}, "status": "needs-action"}


def test_preferred_language_is_a_preferred_communication_when_the_question_exists():
    bundle = fhir.bundle(as_submission(preferred_language="es"), BASE, Practice())
    patient = validate_bundle(bundle, BASE, "APT-ABCDEFGH")["Patient"]
    assert patient["communication"] == [
        {
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}], "text": "es"},
            "preferred": True,
        }
    ]
    # Without the question (today's forms) there is no communication element at all.
    plain = validate_bundle(fhir.bundle(as_submission(), BASE, Practice()), BASE, "APT-ABCDEFGH")
    assert "communication" not in plain["Patient"]


def test_contact_preference_ranks_the_patients_chosen_channel_first():
    texting = fhir.bundle(as_submission(contact_method="text"), BASE, Practice())
    telecom = validate_bundle(texting, BASE, "APT-ABCDEFGH")["Patient"]["telecom"]
    assert {"system": "sms", "value": "+16172531000", "rank": 1} in telecom
    assert {"system": "email", "value": "zoe@example.com"} in telecom


def test_identifier_system_is_the_public_base_url_and_entries_are_stable():
    first = fhir.bundle(as_submission(), "https://portal.practice.example/", Practice())
    again = fhir.bundle(as_submission(), "https://portal.practice.example/", Practice())
    validate_bundle(first, "https://portal.practice.example", "APT-ABCDEFGH")
    assert first == again  # the same submission always gives the same Bundle (receivers dedupe)
    other = fhir.bundle(as_submission(reference="APT-ZZZZZZZZ"), BASE, Practice())
    assert {e["fullUrl"] for e in other["entry"]}.isdisjoint(e["fullUrl"] for e in first["entry"])


def test_staff_download_the_bundle_as_fhir_json_audited_like_a_view(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    reference = add_submission(app)
    page = client.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert f'href="/admin/submissions/{reference}.fhir.json"' in page

    response = client.get(f"/admin/submissions/{reference}.fhir.json")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{reference}.fhir.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    validate_bundle(response.get_json(force=True), app.config["PUBLIC_BASE_URL"], reference)
    views = audit_events(app, "submission.viewed")
    assert views[-1].target == reference and views[-1].detail == {"format": "fhir"}
    assert views[-1].actor == STAFF


def test_fhir_download_of_an_unknown_reference_is_404(app, admin):
    assert admin.get("/admin/submissions/APT-ZZZZZZZZ.fhir.json").status_code == 404


def test_ndjson_export_is_one_valid_bundle_per_line_filtered_and_audited(app, admin):
    appointment = add_submission(app, "appointment")
    message = add_submission(app, "contact")
    add_submission(app, "appointment", status="closed")

    response = admin.get("/admin/export.ndjson?status=new")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+ndjson"
    assert response.headers["Content-Disposition"].endswith('.ndjson"')
    lines = response.get_data().decode().splitlines()
    assert len(lines) == 2
    bundles = [json.loads(line) for line in lines]
    references = [b["identifier"]["value"] for b in bundles]
    assert references == [appointment, message]
    for bundle, reference in zip(bundles, references, strict=True):
        validate_bundle(bundle, app.config["PUBLIC_BASE_URL"], reference)

    only_messages = admin.get("/admin/export.ndjson?form=contact").get_data().decode()
    assert [json.loads(line)["identifier"]["value"] for line in only_messages.splitlines()] == [
        message
    ]
    exports = audit_events(app, "export")
    assert exports[0].detail["format"] == "ndjson" and exports[0].detail["rows"] == 2


def test_ndjson_export_streams_in_chunks_of_bundles(app, admin, monkeypatch):
    from portal import exports

    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    for _ in range(5):
        add_submission(app)
    response = admin.get("/admin/export.ndjson", buffered=False)
    chunks = [chunk for chunk in response.response if chunk]
    response.close()
    assert len(chunks) == 3  # 2 + 2 + 1 Bundles: written as rows come, never all at once
    assert all(chunk.endswith(b"\n") for chunk in chunks)


def test_ndjson_export_is_for_admins_only(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    assert client.get("/admin/export.ndjson").status_code == 403


def test_export_page_offers_fhir_ndjson(app, admin):
    page = admin.get("/admin/export").get_data(as_text=True)
    assert 'value="ndjson"' in page
    response = admin.get("/admin/export?format=ndjson&form=&status=")
    assert response.status_code == 303
    assert "/admin/export.ndjson" in response.headers["Location"]


def test_cli_exports_fhir_ndjson(app, runner, tmp_path):
    reference = add_submission(app, "contact")
    output = tmp_path / "bundles.ndjson"
    result = runner.invoke(args=["export", "--format", "ndjson", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "1 submission(s) written" in result.output
    (line,) = output.read_text(encoding="utf-8").splitlines()
    validate_bundle(json.loads(line), app.config["PUBLIC_BASE_URL"], reference)
    assert oct(output.stat().st_mode & 0o777) == "0o600"
    assert audit_events(app, "export")[0].detail["format"] == "ndjson"
