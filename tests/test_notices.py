"""The practice's legal notices: its own Markdown pages, external pages, or the placeholder."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import MakeApp

NOTICE = """# Notice of Privacy Practices

This notice describes **how medical information about you** may be used.

## Your rights

- Get a copy of your [health record](https://practice.example/records).
- Ask us to correct it.

<script>alert("x")</script> <img src=x onerror=alert(1)>
[click](javascript:alert(1))
"""


def app_with_notice(
    make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str = ""
):
    notices = tmp_path / "instance" / "notices"
    notices.mkdir(parents=True)
    (notices / "privacy-practices.md").write_text(NOTICE, encoding="utf-8")
    (tmp_path / "instance" / "practice.toml").write_text(profile)
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("PORTAL_SECRET_KEY", "x" * 32)
    return make_app(from_environment=True)


def test_markdown_notice_is_rendered_in_the_layout_with_raw_html_off(
    make_app, tmp_path, monkeypatch
):
    client = app_with_notice(make_app, tmp_path, monkeypatch).test_client()
    response = client.get("/notices/privacy-practices")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Notice of Privacy Practices</h1>" in page  # the page's one h1, from the profile
    assert "<h2>Notice of Privacy Practices</h2>" in page  # the file's headings start at h2
    assert "<h3>Your rights</h3>" in page
    assert "<strong>how medical information about you</strong>" in page
    assert (
        '<li>Get a copy of your <a href="https://practice.example/records">health record</a>'
        in page
    )
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert "840 Winter Street," in page  # the footer: inside the portal's layout
    assert "ask the front desk" not in page


def test_markdown_notice_wins_over_the_profile_url(make_app, tmp_path, monkeypatch):
    profile = (
        '[[notices]]\nslug = "privacy-practices"\ntitle = "Notice of Privacy Practices"\n'
        'url = "https://practice.example/npp/"\n'
        '[[notices]]\nslug = "terms-of-service"\ntitle = "Terms of Service"\n'
        'url = "https://practice.example/terms/"\n'
    )
    client = app_with_notice(make_app, tmp_path, monkeypatch, profile).test_client()
    home = client.get("/").get_data(as_text=True)
    assert '<a href="/notices/privacy-practices">Notice of Privacy Practices</a>' in home
    assert '<a href="https://practice.example/terms/">Terms of Service</a>' in home
    assert client.get("/notices/privacy-practices").status_code == 200
    external = client.get("/notices/terms-of-service")
    assert external.status_code == 302
    assert external.headers["Location"] == "https://practice.example/terms/"


def test_notice_without_page_or_url_still_says_ask_the_front_desk(client):
    page = client.get("/notices/billing-disclosure").get_data(as_text=True)
    assert "For a copy of our Billing Disclosure, ask the front desk" in page
    assert client.get("/notices/no-such-notice").status_code == 404


@pytest.mark.parametrize("path", ["/request-an-appointment", "/contact-us"])
def test_both_forms_link_the_privacy_notice_next_to_the_submit_button(client, path):
    page = client.get(path).get_data(as_text=True)
    button = page.index('<button class="button" type="submit">')
    link = page.index(">How we use your information</a>")
    assert 0 < link - button < 300, "the link follows the submit button"
    assert 'href="/notices/privacy-practices" target="_blank" rel="noopener"' in page
    assert "opens in a new tab" in page
