"""Access to the staff area: every /admin route guarded, admin-only routes closed to staff,
no-store on every response, CSRF on every POST, and ?next= kept to this site."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from portal.admin import OPEN_ENDPOINTS, STAFF_ENDPOINTS

from .admin_helpers import ADMIN, PASSWORD, STAFF, add_submission, make_user, sign_in

SAMPLE_VALUES = {"reference": "APT-ABCDEFGH", "fmt": "csv", "token": "not-a-set-up-link"}


def admin_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) for every route of the staff area, with sample values filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: SAMPLE_VALUES[m.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, url, rule.endpoint))
    return routes


def test_every_staff_route_is_in_the_blueprint_and_walked(app):
    routes = admin_routes(app)
    assert len(routes) >= 20
    assert {endpoint for _, _, endpoint in routes} >= STAFF_ENDPOINTS | OPEN_ENDPOINTS
    assert all(endpoint.startswith("admin.") for _, _, endpoint in routes)


def test_every_admin_route_sends_an_anonymous_user_to_sign_in(app, client):
    app.config["WTF_CSRF_ENABLED"] = False  # so that POSTs reach the guard, not the CSRF check
    add_submission(app, reference="APT-ABCDEFGH")
    for method, url, endpoint in admin_routes(app):
        if endpoint in OPEN_ENDPOINTS:
            continue
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/admin/login"), (method, url)
        assert response.headers["Cache-Control"] == "no-store", (method, url)


def test_sign_in_pages_are_open(app, client):
    assert client.get("/admin/login").status_code == 200
    # Without a password step behind them, the code pages lead back to the sign-in page.
    assert client.get("/admin/login/code").headers["Location"] == "/admin/login"
    assert client.get("/admin/login/two-factor").headers["Location"] == "/admin/login"


def test_staff_user_gets_403_on_every_admin_only_route(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    app.config["WTF_CSRF_ENABLED"] = False
    admin_only = [r for r in admin_routes(app) if r[2] not in STAFF_ENDPOINTS | OPEN_ENDPOINTS]
    assert {endpoint for _, _, endpoint in admin_only} >= {
        "admin.export",
        "admin.export_file",
        "admin.audit_log",
        "admin.users",
        "admin.create_user",
        "admin.disable_user",
    }
    for method, url, _ in admin_only:
        response = client.open(url, method=method)
        assert response.status_code == 403, (method, url)
        assert response.headers["Cache-Control"] == "no-store"


def test_staff_user_reaches_the_staff_pages(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    reference = add_submission(app)
    for url in ("/admin/", f"/admin/submissions/{reference}", "/admin/account"):
        assert client.get(url).status_code == 200, url
    page = client.get("/admin/").get_data(as_text=True)
    assert ">Export</a>" not in page and ">Audit log</a>" not in page


def test_admin_reaches_every_page(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    for url in ("/admin/", "/admin/export", "/admin/audit", "/admin/users", "/admin/account"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


def test_every_staff_response_is_no_store(app, client):
    make_user(app, ADMIN, "admin")
    responses = [client.get("/admin/login"), sign_in(client, ADMIN), client.get("/admin/")]
    responses.append(client.get("/admin/submissions/APT-NOTHERE2"))  # 404 too
    responses.append(client.get("/admin/export.csv"))
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_staff_posts_without_a_csrf_token_are_refused(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    reference = add_submission(app)
    for url, data in [
        (f"/admin/submissions/{reference}/status", {"status": "contacted"}),
        (f"/admin/submissions/{reference}/notes", {"text": "Called."}),
        ("/admin/logout", {}),
        ("/admin/users/disable", {"email": ADMIN}),
    ]:
        assert client.post(url, data=data).status_code == 400, url
    refused = app.test_client().post("/admin/login", data={"email": ADMIN, "password": PASSWORD})
    assert refused.status_code == 400
    assert "The page was open for too long" in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\t/evil.example",
        " //evil.example",
    ],
)
def test_next_never_leads_off_the_site(app, client, target):
    make_user(app, STAFF, "staff")
    response = sign_in(client, STAFF, query="?" + _query(target))
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"


def test_next_leads_back_to_the_page_asked_for(app, client):
    make_user(app, STAFF, "staff")
    reference = add_submission(app)
    first = client.get(f"/admin/submissions/{reference}?x=1")
    assert first.headers["Location"] == f"/admin/login?next=/admin/submissions/{reference}?x%3D1"
    response = sign_in(client, STAFF, query="?" + first.headers["Location"].split("?", 1)[1])
    assert response.headers["Location"] == f"/admin/submissions/{reference}?x=1"


def _query(target: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"next": target})
