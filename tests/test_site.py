"""The site as search engines, caches and the practice's own website see it: descriptions,
schema.org data, fingerprinted static files, framing, and machine-readable times."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .admin_helpers import ADMIN, add_submission, make_user, sign_in

ROOT = Path(__file__).resolve().parent.parent
IMMUTABLE = "public, max-age=31536000, immutable"
DESCRIPTION = re.compile(r'<meta name="description" content="([^"]+)">')
JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def test_every_public_page_has_its_own_meta_description(client):
    descriptions = {}
    for path in ("/", "/request-an-appointment", "/contact-us", "/notices/privacy-practices"):
        found = DESCRIPTION.findall(client.get(path).get_data(as_text=True))
        assert len(found) == 1 and len(found[0]) > 50, (path, found)
        descriptions[path] = found[0]
    assert len(set(descriptions.values())) == len(descriptions), descriptions
    assert DESCRIPTION.search(client.get("/no-such-page").get_data(as_text=True))


def test_home_describes_the_practice_as_a_schema_org_medical_clinic(client):
    blocks = JSON_LD.findall(client.get("/").get_data(as_text=True))
    assert len(blocks) == 1
    clinic = json.loads(blocks[0])
    assert clinic["@context"] == "https://schema.org" and clinic["@type"] == "MedicalClinic"
    assert clinic["name"] == "Boston Out-Patient Surgical Suites"
    assert clinic["telephone"] == "+17812095645"
    assert clinic["url"] == "http://127.0.0.1:5000/"  # PUBLIC_BASE_URL, never the Host header
    assert clinic["address"] == {
        "@type": "PostalAddress",
        "streetAddress": "840 Winter Street",
        "addressLocality": "Waltham",
        "addressRegion": "MA",
        "postalCode": "02451",
        "addressCountry": "US",
    }
    assert "openingHoursSpecification" not in clinic  # the default profile knows no hours
    assert not JSON_LD.search(client.get("/contact-us").get_data(as_text=True))


def test_json_ld_carries_structured_hours_and_cannot_be_closed_by_profile_text(
    make_app, tmp_path, monkeypatch
):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "practice.toml").write_text(
        'name = "Lakeside </script><script>alert(1)</script>"\n'
        '[hours]\nmon = ["07:00-16:00"]\nsat = ["08:00-12:00"]\n'
    )
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("PORTAL_SECRET_KEY", "x" * 32)
    page = make_app(from_environment=True).test_client().get("/").get_data(as_text=True)
    (block,) = JSON_LD.findall(page)
    clinic = json.loads(block)
    assert clinic["name"] == "Lakeside </script><script>alert(1)</script>"
    assert "<script>alert" not in page
    assert clinic["openingHoursSpecification"] == [
        {
            "@type": "OpeningHoursSpecification",
            "dayOfWeek": "https://schema.org/Monday",
            "opens": "07:00",
            "closes": "16:00",
        },
        {
            "@type": "OpeningHoursSpecification",
            "dayOfWeek": "https://schema.org/Saturday",
            "opens": "08:00",
            "closes": "12:00",
        },
    ]


def test_static_files_carry_a_content_hash_and_are_cached_for_a_year(client):
    page = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert {u.split("?")[0] for u in urls} >= {
        "/static/css/portal.css",
        "/static/js/portal.js",
        "/static/img/favicon.svg",
    }
    for url in urls:
        path, digest = re.fullmatch(r"/static/(.+)\?v=([0-9a-f]{12})", url).groups()
        content = (ROOT / "static" / path).read_bytes()
        assert digest == hashlib.sha256(content).hexdigest()[:12], url
        with client.get(url) as response:
            assert response.status_code == 200 and response.data == content
            assert response.headers["Cache-Control"] == IMMUTABLE, url
    # Without the current hash, a URL is not pinned: a stale one must never be cached for a year.
    for url in ("/static/css/portal.css", "/static/css/portal.css?v=000000000000"):
        with client.get(url) as response:
            assert "immutable" not in response.headers.get("Cache-Control", ""), url
    # Pages keep their own caching.
    assert "immutable" not in client.get("/").headers.get("Cache-Control", "")


def csp_directive(response, name: str) -> list[str]:
    for part in response.headers["Content-Security-Policy"].split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"no {name} in the policy")


def test_no_framing_by_default(client):
    response = client.get("/contact-us")
    assert csp_directive(response, "frame-ancestors") == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_frame_ancestors_setting_lists_the_sites_that_may_frame_the_forms(settings, make_app):
    settings["FRAME_ANCESTORS"] = ["https://www.practice.example", "https://practice.example"]
    client = make_app().test_client()
    response = client.get("/request-an-appointment")
    assert csp_directive(response, "frame-ancestors") == [
        "https://www.practice.example",
        "https://practice.example",
    ]
    assert "X-Frame-Options" not in response.headers  # it cannot name two origins
    assert csp_directive(response, "script-src") == ["'self'"]  # the rest of the policy stays


@pytest.mark.parametrize(
    "value", ["https://practice.example", ["https://practice.example/forms"], ["*; script-src *"]]
)
def test_frame_ancestors_must_be_a_list_of_origins(settings, make_app, value):
    settings["FRAME_ANCESTORS"] = value
    with pytest.raises(RuntimeError, match="FRAME_ANCESTORS"):
        make_app()


def test_staff_times_are_machine_readable_to_the_second(app, client):
    make_user(app, ADMIN, role="admin")
    add_submission(app, created_at=datetime(2026, 3, 2, 14, 5, 9, 123456, tzinfo=UTC))
    sign_in(client, ADMIN)
    page = client.get("/admin/").get_data(as_text=True)
    assert '<time datetime="2026-03-02T14:05:09+00:00">' in page


# --- The form inside the practice's own page (Chromium) ---------------------------------------


@pytest.fixture
def practice_site(settings):
    """A page of "the practice's website", on another origin of the same site, with an iframe."""
    holder: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 -- the http.server API
            body = (
                '<!doctype html><html lang="en"><title>Practice</title><h1>Our practice</h1>'
                f'<iframe title="Contact us" src="{holder["portal"]}/contact-us" '
                'width="800" height="1400"></iframe>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_port}"
    settings["FRAME_ANCESTORS"] = [origin]
    yield origin, holder
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.mark.browser
def test_framed_form_submits_and_confirms_inside_the_frame(practice_site, live_server, page: Page):
    origin, holder = practice_site
    holder["portal"] = live_server
    page.goto(origin)
    frame = page.frame_locator('iframe[title="Contact us"]')
    frame.get_by_label("Name", exact=True).fill("Framed Patient")
    frame.get_by_label("Email address", exact=True).fill("framed@example.com")
    frame.get_by_label("Message", exact=True).fill("Asked from the practice's own page.")
    frame.get_by_role("button", name="Send message").click()
    expect(frame.get_by_text(re.compile(r"MSG-[A-Z2-9]{8}")).first).to_be_visible()
    assert page.url.rstrip("/") == origin  # the practice's page stayed; only the frame moved
    assert page.get_by_role("heading", name="Our practice").is_visible()


@pytest.mark.browser
def test_a_site_not_listed_cannot_frame_the_form(live_server, page: Page):
    page.set_content(f'<iframe title="Contact us" src="{live_server}/contact-us"></iframe>')
    page.wait_for_timeout(1000)
    frame = page.frames[1]
    assert frame.url.startswith("chrome-error://"), frame.url  # refused by frame-ancestors
    assert frame.locator("form").count() == 0
