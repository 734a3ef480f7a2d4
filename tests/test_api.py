"""The API for machines at /api/v1: bearer tokens and scopes, cookies ignored, listing with
cursors and filters, reads audited under the token's name, PATCH of status and notes, RFC 9457
problems, the per-token rate limit, and the OpenAPI 3.1 document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiToken, Note, utcnow

from .admin_helpers import ADMIN, add_submission, audit_events, make_user, sign_in, stored
from .fhir_checks import validate_bundle

READ = "submissions:read"
WRITE = "submissions:write"


def make_token(
    app,
    name: str = "Mirth Connect",
    scopes: str = f"{READ} {WRITE}",
    expires_at: datetime | None = None,
    revoked: bool = False,
) -> str:
    """Store a token as the admin page does and return the secret."""
    secret = ApiToken.new_secret()
    with app.app_context():
        db.session.add(
            ApiToken(
                name=name,
                hint=secret[:12],
                token_hash=ApiToken.hash(secret),
                scopes=scopes,
                expires_at=expires_at,
                revoked_at=utcnow() if revoked else None,
            )
        )
        db.session.commit()
    return secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token(app) -> str:
    return make_token(app)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    return body


# --- Authentication ---------------------------------------------------------------------------


def test_requests_without_a_token_get_401_problem_with_a_bearer_challenge(client):
    response = client.get("/api/v1/submissions")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.get("/api/v1/submissions", headers={"Authorization": "Basic eDp5"}), 401)


def test_unknown_revoked_and_expired_tokens_are_refused(app, client):
    revoked = make_token(app, "old", revoked=True)
    expired = make_token(app, "expired", expires_at=utcnow() - timedelta(seconds=1))
    valid = make_token(app, "valid", expires_at=utcnow() + timedelta(days=1))
    for secret in (revoked, expired, ApiToken.new_secret()):
        response = client.get("/api/v1/submissions", headers=bearer(secret))
        assert_problem(response, 401)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert client.get("/api/v1/submissions", headers=bearer(valid)).status_code == 200


def test_tokens_are_stored_only_as_their_hash(app, token):
    with app.app_context():
        stored_token = db.session.scalar(select(ApiToken))
        assert stored_token.token_hash == ApiToken.hash(token) != token
        assert token.startswith("portal_") and len(token) == len("portal_") + 43
        assert token not in {stored_token.hint, stored_token.scopes, stored_token.name}


def test_a_staff_session_cookie_is_ignored_on_the_api(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    assert client.get("/admin/").status_code == 200
    response = client.get("/api/v1/submissions")
    assert_problem(response, 401)
    assert "Set-Cookie" not in response.headers


def test_read_only_token_cannot_change_and_write_only_token_cannot_read(app, client):
    reference = add_submission(app)
    reader = make_token(app, "reader", READ)
    writer = make_token(app, "writer", WRITE)
    response = client.patch(
        f"/api/v1/submissions/{reference}", json={"status": "closed"}, headers=bearer(reader)
    )
    assert_problem(response, 403)
    assert 'scope="submissions:write"' in response.headers["WWW-Authenticate"]
    assert_problem(client.get(f"/api/v1/submissions/{reference}", headers=bearer(writer)), 403)
    assert_problem(client.get(f"/api/v1/submissions/{reference}/fhir", headers=bearer(writer)), 403)
    assert stored(app, reference).status == "new"
    assert audit_events(app, "submission.viewed") == []


def test_last_use_of_a_token_is_recorded(app, client, token):
    with app.app_context():
        assert db.session.scalar(select(ApiToken.last_used_at)) is None
    client.get("/api/v1/submissions", headers=bearer(token))
    with app.app_context():
        last_used = db.session.scalar(select(ApiToken.last_used_at))
    assert last_used is not None and utcnow() - last_used < timedelta(seconds=30)


# --- Reading ------------------------------------------------------------------------------------


def test_list_is_newest_first_and_pages_follow_next(app, client, token):
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    references = [add_submission(app, created_at=start + timedelta(hours=n)) for n in range(5)]
    # Two submissions received at the same instant are still paged without loss or repeat.
    references.append(add_submission(app, created_at=start + timedelta(hours=4)))
    seen, url, pages = [], "/api/v1/submissions?limit=2", 0
    while url:
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["data"]) <= 2
        seen += [item["reference"] for item in body["data"]]
        url, pages = body["next"], pages + 1
        if url:
            assert url.startswith(app.config["PUBLIC_BASE_URL"] + "/api/v1/submissions?")
    assert pages == 3
    expected = [references[5], references[4], *reversed(references[:4])]
    assert seen == expected
    first = client.get("/api/v1/submissions?limit=1", headers=bearer(token)).get_json()["data"][0]
    assert first == {
        "reference": references[5],
        "kind": "appointment",
        "status": "new",
        "received_at": "2026-03-01T16:00:00Z",
        "url": f"{app.config['PUBLIC_BASE_URL']}/api/v1/submissions/{references[5]}",
    }


def test_list_filters_by_since_until_status_and_kind(app, client, token):
    day = datetime(2026, 3, 9, tzinfo=UTC)
    early = add_submission(app, created_at=day + timedelta(hours=1))
    middle = add_submission(app, "contact", created_at=day + timedelta(hours=2))
    late = add_submission(app, status="closed", created_at=day + timedelta(hours=3))

    def listed(query: str) -> list[str]:
        response = client.get(f"/api/v1/submissions?{query}", headers=bearer(token))
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["reference"] for item in response.get_json()["data"]]

    assert listed("since=2026-03-09T02:00:00Z") == [late, middle]
    assert listed("until=2026-03-09T02:00:00Z") == [early]  # until is exclusive
    assert listed("since=2026-03-08T19:30:00-05:00&until=2026-03-09T03:00:00%2B00:00") == [
        middle,
        early,
    ]
    assert listed("status=closed") == [late]
    assert listed("kind=contact") == [middle]
    assert listed("kind=appointment&status=new") == [early]
    # The page's next link keeps the filters.
    response = client.get("/api/v1/submissions?kind=appointment&limit=1", headers=bearer(token))
    query = parse_qs(urlsplit(response.get_json()["next"]).query)
    assert query["kind"] == ["appointment"] and query["limit"] == ["1"] and query["cursor"]


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-03-09T02:00:00",  # no offset: ambiguous
        "since=0001-01-01T00:00:00%2B01:00",
        "status=lost",
        "kind=fax",
        "limit=0",
        "limit=101",
        "limit=ten",
        "cursor=not-a-cursor",
        "cursor=%00",
    ],
)
def test_invalid_query_parameters_are_a_400_problem_naming_them(client, token, query):
    body = assert_problem(client.get(f"/api/v1/submissions?{query}", headers=bearer(token)), 400)
    assert body["errors"][0]["parameter"] == query.split("=")[0]


def test_listing_is_audited_with_the_tokens_name_and_no_patient_data(app, client, token):
    reference = add_submission(app)
    response = client.get("/api/v1/submissions?kind=appointment", headers=bearer(token))
    assert "Siob" not in response.get_data(as_text=True)  # the list carries no patient data
    (event,) = audit_events(app, "submissions.listed")
    assert event.actor == "Mirth Connect" and event.user_id is None
    assert event.detail == {"kind": "appointment", "results": 1, "references": [reference]}


def test_a_submission_is_read_by_its_form_keys_and_the_read_is_audited(app, client, token):
    reference = add_submission(
        app, preferred_days="Monday, Thursday", physician="Dr. Ada Byron", insurance="Aetna"
    )
    response = client.get(f"/api/v1/submissions/{reference}", headers=bearer(token))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["reference"] == reference and body["kind"] == "appointment"
    assert body["fields"] == {
        "first_name": "Siobhán",
        "last_name": "O'Hara",
        "date_of_birth": "1980-03-27",
        "phone": "+16172531000",
        "email": "patient@example.com",
        "contact_method": "phone",
        "preferred_language": None,
        "interpreter": None,
        "specialty": "Total knee replacement",
        "physician": "Dr. Ada Byron",
        "patient_type": None,
        "preferred_days": ["Monday", "Thursday"],
        "preferred_time": None,
        "insurance": "Aetna",
        "referring_physician": None,
        "reason": "Knee pain.",
    }
    assert body["notes"] == []
    assert body["fhir_url"].endswith(f"/api/v1/submissions/{reference}/fhir")
    (event,) = audit_events(app, "submission.viewed")
    assert (event.actor, event.target, event.detail) == ("Mirth Connect", reference, {"via": "api"})


def test_a_contact_message_is_read_by_its_form_keys(app, client, token):
    reference = add_submission(app, "contact")
    body = client.get(f"/api/v1/submissions/{reference}", headers=bearer(token)).get_json()
    assert body["kind"] == "contact"
    assert body["fields"] == {
        "name": "山田 太郎",
        "email": "patient@example.com",
        "phone": "+16172531000",
        "preferred_language": None,
        "topic": "Billing",
        "message": "A question about my bill.",
    }


def test_the_fhir_bundle_is_served_as_fhir_json_and_audited(app, client, token):
    reference = add_submission(app)
    response = client.get(f"/api/v1/submissions/{reference}/fhir", headers=bearer(token))
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    validate_bundle(response.get_json(force=True), app.config["PUBLIC_BASE_URL"], reference)
    (event,) = audit_events(app, "submission.viewed")
    assert event.actor == "Mirth Connect"
    assert event.detail == {"via": "api", "format": "fhir"}


@pytest.mark.parametrize("path", ["APT-ZZZZZZZZ", "not-a-reference", "APT-ZZZZZZZZ/fhir"])
def test_an_unknown_reference_is_a_404_problem(client, token, path):
    assert_problem(client.get(f"/api/v1/submissions/{path}", headers=bearer(token)), 404)


def test_unknown_addresses_and_methods_under_the_api_are_problems(client, token):
    assert_problem(client.get("/api/v1/nothing-here", headers=bearer(token)), 404)
    response = client.delete("/api/v1/submissions", headers=bearer(token))
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


# --- Changing -----------------------------------------------------------------------------------


def test_patch_sets_the_status_and_adds_a_note_audited_under_the_tokens_name(app, client, token):
    reference = add_submission(app)
    response = client.patch(
        f"/api/v1/submissions/{reference}",
        json={"status": "scheduled", "note": "  Booked for 12 March, 9 am.  "},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "scheduled" and body["changed"] == ["status", "note"]
    assert "fields" not in body  # a write answers without patient data
    assert stored(app, reference).status == "scheduled"
    with app.app_context():
        note = db.session.scalar(select(Note))
        assert note.text == "Booked for 12 March, 9 am."
        assert note.author_id is None and note.author_label == "Mirth Connect (API token)"
    (status_event,) = audit_events(app, "submission.status")
    assert status_event.actor == "Mirth Connect" and status_event.target == reference
    assert status_event.detail == {"from": "new", "to": "scheduled", "via": "api"}
    (note_event,) = audit_events(app, "note.added")
    assert note_event.detail == {"characters": 26, "via": "api"}

    # Staff see the note, written by the token, on the submission page.
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    page = client.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert "Mirth Connect (API token)" in page and "Booked for 12 March" in page


def test_patch_to_the_same_status_changes_nothing(app, client, token):
    reference = add_submission(app)
    response = client.patch(
        f"/api/v1/submissions/{reference}", json={"status": "new"}, headers=bearer(token)
    )
    assert response.status_code == 200 and response.get_json()["changed"] == []
    assert audit_events(app, "submission.status") == []


def test_patch_with_if_status_is_a_409_when_the_status_moved_on(app, client, token):
    reference = add_submission(app, status="closed")
    response = client.patch(
        f"/api/v1/submissions/{reference}",
        json={"status": "scheduled", "note": "Booked.", "if_status": "contacted"},
        headers=bearer(token),
    )
    body = assert_problem(response, 409)
    assert body["current_status"] == "closed"
    assert stored(app, reference).status == "closed"
    with app.app_context():
        assert db.session.scalar(select(Note)) is None
    ok = client.patch(
        f"/api/v1/submissions/{reference}",
        json={"status": "scheduled", "if_status": "closed"},
        headers=bearer(token),
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"if_status": "new"},
        {"status": "lost"},
        {"status": None},
        {"note": ""},
        {"note": "   \n "},
        {"note": "bell \x07"},
        {"note": "x" * 2001},
        {"note": 42},
        {"status": "closed", "assignee": "someone"},
        ["status", "closed"],
    ],
)
def test_invalid_changes_are_a_422_problem_and_change_nothing(app, client, token, body):
    reference = add_submission(app)
    response = client.patch(f"/api/v1/submissions/{reference}", json=body, headers=bearer(token))
    assert_problem(response, 422)
    assert stored(app, reference).status == "new"
    assert audit_events(app, "note.added") == []


def test_malformed_json_is_400_and_another_media_type_is_415(app, client, token):
    reference = add_submission(app)
    url = f"/api/v1/submissions/{reference}"
    headers = {**bearer(token), "Content-Type": "application/json"}
    assert_problem(client.patch(url, data=b'{"status": ', headers=headers), 400)
    assert_problem(client.patch(url, data=b"\xff\xfe", headers=headers), 400)
    assert_problem(client.patch(url, data=b"[" * 60000, headers=headers), 400)
    assert_problem(client.patch(url, data={"status": "closed"}, headers=bearer(token)), 415)


def test_patch_needs_no_csrf_token(app, client, token):
    # CSRF protection is on (as in production); bearer tokens are not sent by browsers by
    # themselves, so the API is exempt, and it still works.
    assert app.config.get("WTF_CSRF_ENABLED", True)
    reference = add_submission(app)
    response = client.patch(
        f"/api/v1/submissions/{reference}", json={"status": "contacted"}, headers=bearer(token)
    )
    assert response.status_code == 200


def test_patch_of_an_unknown_reference_is_404(client, token):
    response = client.patch(
        "/api/v1/submissions/APT-ZZZZZZZZ", json={"status": "closed"}, headers=bearer(token)
    )
    assert_problem(response, 404)


# --- Rate limit ---------------------------------------------------------------------------------


def test_rate_limit_is_per_token_and_answers_429_problem_with_retry_after(settings, app, client):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    first, second = make_token(app, "first"), make_token(app, "second")
    statuses = [client.get("/api/v1/submissions", headers=bearer(first)).status_code]
    statuses += [client.get("/api/v1/submissions", headers=bearer(first)).status_code]
    statuses += [client.get("/api/v1/submissions", headers=bearer(first)).status_code]
    limited = client.get("/api/v1/submissions", headers=bearer(first))
    assert statuses == [200, 200, 200]
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    # Another token has its own allowance.
    assert client.get("/api/v1/submissions", headers=bearer(second)).status_code == 200


def test_api_rate_limit_setting_defaults_to_600_per_minute(app):
    assert app.config["API_RATE_LIMIT"] == "600 per minute"


# --- The OpenAPI document -------------------------------------------------------------------------


def test_openapi_document_describes_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    described = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    routes = {
        (rule.rule.removeprefix("/api/v1").replace("<reference>", "{reference}"), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == described
    for item in document["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert "429" in operation["responses"]
            if operation.get("security") != []:
                assert {"401", "403"} <= set(operation["responses"])
