"""Security headers on every response (pages, redirects, error pages, static files, downloads),
HSTS only over HTTPS, and templates that need no inline script or style."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import send_file

from .admin_helpers import ADMIN, add_submission, make_user, sign_in
from .helpers import VALID_APPOINTMENT, form_tokens

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ONE_YEAR = 365 * 24 * 3600


def assert_security_headers(response) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "geolocation=()" in headers["Permissions-Policy"]


@pytest.fixture
def extra_routes(app):
    """A download and an unhandled error, as any later view might produce them."""

    @app.get("/test-download")
    def download():
        return send_file(io.BytesIO(b"a,b\n1,2\n"), as_attachment=True, download_name="x.csv")

    @app.get("/test-explode")
    def explode():
        raise RuntimeError("boom")

    return app


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/", 200),
        ("get", "/request-an-appointment", 200),
        ("get", "/contact-us", 200),
        ("get", "/healthz", 200),
        ("get", "/static/css/portal.css", 200),
        ("get", "/static/js/portal.js", 200),
        ("get", "/test-download", 200),
        ("get", "/request-an-appointment/received", 302),
        ("get", "/no-such-page", 404),
        ("delete", "/contact-us", 405),
        ("get", "/test-explode", 500),
        ("post", "/contact-us", 400),  # no CSRF token
    ],
)
def test_every_response_carries_the_security_headers(extra_routes, client, method, url, status):
    with getattr(client, method)(url) as response:  # closes a static file's handle
        assert response.status_code == status
        assert_security_headers(response)


def test_form_answers_carry_the_security_headers(client, post_appointment):
    assert_security_headers(post_appointment(first_name=""))  # 422
    assert_security_headers(post_appointment())  # 303 to the confirmation
    too_big = {**VALID_APPOINTMENT, **form_tokens(client, "/request-an-appointment")}
    too_big["reason"] = "x" * 70_000
    response = client.post("/request-an-appointment", data=too_big)
    assert response.status_code == 413
    assert_security_headers(response)


def test_rate_limited_and_unavailable_answers_carry_the_security_headers(
    settings, make_app, tmp_path
):
    # A 503 is not an accepted submission: the limit on every POST is the one that answers 429.
    settings["FORM_POST_RATE_LIMIT"] = "1 per minute"
    settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    client = make_app().test_client()
    data = {**VALID_APPOINTMENT, **form_tokens(client, "/request-an-appointment")}
    unavailable = client.post("/request-an-appointment", data=data)
    assert unavailable.status_code == 503
    assert_security_headers(unavailable)
    limited = client.post("/request-an-appointment", data=data)
    assert limited.status_code == 429
    assert_security_headers(limited)


def test_hsts_for_one_year_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://portal.example")
    assert secure.headers["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"
    assert_security_headers(secure)


def test_forwarded_https_counts_only_from_a_trusted_proxy(settings, app, client):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert "Strict-Transport-Security" not in client.get("/", headers=forwarded).headers


def test_forwarded_https_from_the_trusted_proxy_gets_hsts(settings, make_app):
    settings["TRUSTED_PROXY_COUNT"] = 1
    client = make_app().test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    response = client.get("/", headers=forwarded)
    assert response.headers["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"


INLINE = [
    # A JSON-LD data block (type="application/ld+json") is never executed, so it is not one.
    (
        re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/ld\+json\")[^>]*>", re.I),
        "an inline <script>",
    ),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event-handler attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def page_templates() -> list[Path]:
    # Emails are not pages: mail clients need inline styles and no CSP applies there.
    return sorted(
        path
        for path in TEMPLATES.rglob("*.html")
        if "email" not in path.relative_to(TEMPLATES).parts
    )


def test_no_inline_script_or_style_in_any_page_template():
    templates = page_templates()
    assert len(templates) >= 5
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in templates
        for pattern, what in INLINE
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.browser
def test_pages_load_in_chromium_without_a_policy_violation(live_server, page):
    """The CSP blocks nothing the pages need: the stylesheet applies and no violation fires."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    for path in ("/", "/request-an-appointment", "/contact-us", "/no-such-page"):
        page.goto(f"{live_server}{path}")
        background = page.evaluate(
            "getComputedStyle(document.querySelector('.site-footer')).backgroundColor"
        )
        assert background not in ("rgba(0, 0, 0, 0)", "transparent"), f"no stylesheet on {path}"
    page.goto(f"{live_server}/request-an-appointment")
    page.get_by_role("button", name="Send request").click()  # invalid: the error summary shows
    assert violations == []


@pytest.mark.parametrize("url", ["/admin/", "/admin/export.csv", "/admin/export.xlsx"])
def test_staff_pages_and_exports_carry_the_security_headers(app, client, url):
    make_user(app, ADMIN, role="admin")
    add_submission(app)
    assert sign_in(client, ADMIN).status_code in (302, 303)
    with client.get(url) as response:
        assert response.status_code == 200
        if url.startswith("/admin/export"):
            assert response.headers["Content-Disposition"].startswith("attachment")
            response.get_data()  # the export streams: read it to the end
        assert_security_headers(response)


def test_staff_sign_in_page_carries_the_security_headers(client):
    assert_security_headers(client.get("/admin/login"))
