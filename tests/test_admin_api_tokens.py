"""The admins' API tokens page: a token is shown once and stored hashed, has scopes and an
optional expiry, can be revoked, shows when it was last used; staff cannot open the page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiToken

from .admin_helpers import ADMIN, STAFF, add_submission, audit_events, make_user, post, sign_in

TOKEN = re.compile(r'value="(portal_[A-Za-z0-9_-]{43})"')


@pytest.fixture
def admin(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


def create(client, **fields) -> tuple[int, str]:
    data = {"name": "Mirth Connect", "scopes": ["submissions:read", "submissions:write"]}
    data.update(fields)
    response = post(client, "/admin/api-tokens", data, page="/admin/api-tokens")
    return response.status_code, response.get_data(as_text=True)


def stored_tokens(app) -> list[ApiToken]:
    with app.app_context():
        tokens = list(db.session.scalars(select(ApiToken).order_by(ApiToken.id)))
        db.session.expunge_all()
        return tokens


def test_admin_creates_a_token_that_is_shown_once_and_stored_hashed(app, admin):
    status, page = create(admin)
    assert status == 201
    secret = TOKEN.search(page).group(1)
    (token,) = stored_tokens(app)
    assert token.token_hash == ApiToken.hash(secret)
    assert token.scopes == "submissions:read submissions:write"
    assert token.expires_at is None and token.revoked_at is None
    assert secret not in admin.get("/admin/api-tokens").get_data(as_text=True)
    (event,) = audit_events(app, "api_token.created")
    assert event.actor == ADMIN and event.target == "Mirth Connect"
    assert secret not in str(event.detail)
    # The token works on the API.
    answer = admin.get("/api/v1/submissions", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200


def test_a_token_can_be_read_only_and_expire_at_the_end_of_a_day(app, admin):
    tomorrow = date.today() + timedelta(days=2)
    status, page = create(admin, scopes=["submissions:read"], expires_on=tomorrow.isoformat())
    assert status == 201
    (token,) = stored_tokens(app)
    assert token.scopes == "submissions:read"
    local = token.expires_at.astimezone(app.extensions["practice"].zone)
    assert local.date() == tomorrow + timedelta(days=1) and local.hour == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Enter a name"),
        ({"scopes": []}, "Select at least one scope"),
        ({"scopes": ["admin"]}, "is not a valid choice"),
        ({"expires_on": "2001-01-01"}, "must be in the future"),
        ({"name": "two\nlines"}, "must be on one line"),
    ],
)
def test_invalid_token_requests_are_refused_with_the_reason(app, admin, fields, message):
    status, page = create(admin, **fields)
    assert status == 422
    assert message in page
    assert stored_tokens(app) == []


def test_token_names_are_unique(app, admin):
    assert create(admin)[0] == 201
    status, page = create(admin)
    assert status == 422 and "already a token with this name" in page
    assert len(stored_tokens(app)) == 1


def test_a_revoked_token_stops_working_at_once(app, admin):
    secret = TOKEN.search(create(admin)[1]).group(1)
    (token,) = stored_tokens(app)
    response = post(admin, "/admin/api-tokens/revoke", {"token": token.id}, "/admin/api-tokens")
    assert response.status_code == 303
    assert stored_tokens(app)[0].revoked_at is not None
    answer = admin.get("/api/v1/submissions", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401
    assert "Revoked" in admin.get("/admin/api-tokens").get_data(as_text=True)
    (event,) = audit_events(app, "api_token.revoked")
    assert event.target == "Mirth Connect"


def test_the_page_shows_when_each_token_was_last_used(app, admin):
    secret = TOKEN.search(create(admin)[1]).group(1)
    page = admin.get("/admin/api-tokens").get_data(as_text=True)
    assert re.search(r'data-label="Last used">Never<', page)
    admin.get("/api/v1/submissions", headers={"Authorization": f"Bearer {secret}"})
    page = admin.get("/admin/api-tokens").get_data(as_text=True)
    assert not re.search(r'data-label="Last used">Never<', page)
    assert secret[:12] in page  # the hint tells tokens apart; the rest is never shown again


def test_staff_cannot_manage_api_tokens(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    assert client.get("/admin/api-tokens").status_code == 403
    data = {"name": "Sneaky", "scopes": ["submissions:write"]}
    assert post(client, "/admin/api-tokens", data, page="/admin/account").status_code == 403
    assert stored_tokens(app) == []
    assert "API tokens" not in client.get("/admin/").get_data(as_text=True)


def test_admins_find_the_page_in_the_staff_menu(admin):
    assert 'href="/admin/api-tokens"' in admin.get("/admin/").get_data(as_text=True)


@pytest.mark.browser
def test_api_tokens_page_by_its_labels_passes_axe(app, live_server, page):
    from playwright.sync_api import expect

    from .browser import assert_accessible, screenshot
    from .test_admin_browser import sign_in_by_labels

    make_user(app, ADMIN, "admin")
    reference = add_submission(app)
    sign_in_by_labels(page, live_server)
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", level=1, name="API tokens")).to_be_visible()
    assert_accessible(page, "API tokens, none yet")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("link", name="Enter a name, such as the system")).to_be_visible()
    assert_accessible(page, "API tokens, errors")
    page.get_by_label("Name", exact=True).fill("Mirth Connect")
    page.get_by_label("submissions:read", exact=False).check()
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New API token").input_value()
    assert TOKEN.fullmatch(f'value="{secret}"')
    assert_accessible(page, "API tokens, new token shown")
    screenshot(page, "admin-api-tokens-new")
    page.get_by_role("button", name="Revoke Mirth Connect").click()
    expect(page.get_by_text("The API token Mirth Connect is revoked.")).to_be_visible()
    assert_accessible(page, "API tokens, revoked")

    # The submission page links to its FHIR Bundle, a download.
    page.goto(f"{live_server}/admin/submissions/{reference}")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as FHIR R4 (JSON)").click()
    assert info.value.suggested_filename == f"{reference}.fhir.json"
