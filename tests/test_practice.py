"""The practice profile: its look (logo, colour), hours, physicians, and how it is checked."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import profile_cli
from portal.practice import ProfileError, contrast_ratio

from .helpers import MakeApp

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="48" viewBox="0 0 240 48">'
    b'<rect width="48" height="48" rx="8" fill="#7a1f5c"/>'
    b'<text x="58" y="32" font-family="sans-serif" font-size="22" fill="#7a1f5c">Lakeside</text>'
    b"</svg>"
)
HOURS = """
[hours]
mon = ["07:00-16:00"]
tue = ["07:00-16:00"]
wed = ["07:00-16:00"]
thu = ["07:00-16:00"]
fri = ["07:00-12:00", "13:00-16:30"]
sat = ["08:00-12:00"]
holidays = [2099-12-25, "2099-01-01", 2000-01-01]
"""


def app_with(make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "practice.toml").write_text(profile)
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("PORTAL_SECRET_KEY", "x" * 32)
    return make_app(from_environment=True)


def problems(make_app, tmp_path, monkeypatch, profile: str) -> str:
    with pytest.raises(ProfileError) as refused:
        app_with(make_app, tmp_path, monkeypatch, profile)
    return str(refused.value)


def test_specialties_written_as_one_text_is_refused_not_spelt_out(make_app, tmp_path, monkeypatch):
    message = problems(make_app, tmp_path, monkeypatch, 'specialties = "Knee"\n')
    assert 'specialties must be a list of texts, e.g. specialties = ["First", "Second"]' in message
    assert 'not "Knee"' in message


def test_invalid_profile_is_refused_at_start_with_every_problem(make_app, tmp_path, monkeypatch):
    message = problems(
        make_app,
        tmp_path,
        monkeypatch,
        'phone = "781-209-5645"\ntimezone = "Boston"\nwebsite_url = "practice.example"\n'
        'nmae = "typo"\ncopyright_year = "2024"\nphysicians = ["Dr. A", 3]\n'
        '[[nav_links]]\nlabel = "Forms"\nurl = "javascript:alert(1)"\n'
        '[routing]\n"Billing" = ["not-an-address"]\n',
    )
    assert "8 problems in the practice profile" in message
    for expected in (
        "unknown practice settings ['nmae']",
        'phone must be in E.164 form, e.g. "+17812095645", not "781-209-5645"',
        "timezone 'Boston' is not a time zone name",
        "website_url must be a full web address (https://…), not 'practice.example'",
        "copyright_year must be a year such as 2024",
        "physicians must hold only texts in quotes; 3 is not one",
        "[[nav_links]] number 1 url must be a full web address",
        "[routing] 'Billing': \"not-an-address\" is not an email address",
    ):
        assert expected in message, message


def test_accent_colour_below_4_5_to_1_with_white_is_refused_saying_why(
    make_app, tmp_path, monkeypatch
):
    message = problems(make_app, tmp_path, monkeypatch, 'accent_color = "#3b8fd9"\n')
    ratio = contrast_ratio("#3b8fd9", "#ffffff")
    assert 3 < ratio < 4.5
    assert f"accent_color #3b8fd9 is too light: its contrast with white is {ratio:.2f}:1" in message
    assert "white text on it" in message and "on a white background" in message
    assert "must be a colour such as" in problems(
        make_app, tmp_path, monkeypatch, 'accent_color = "navy"\n'
    )


def test_accent_colour_is_served_as_a_cacheable_stylesheet_on_every_page(
    make_app, tmp_path, monkeypatch
):
    app = app_with(make_app, tmp_path, monkeypatch, 'accent_color = "#7A1F5C"\n')
    client = app.test_client()
    url = app.extensions["practice_assets"]["accent_css_url"]
    for page in ("/", "/contact-us", "/admin/login"):
        assert f'<link rel="stylesheet" href="{url}">' in client.get(page).get_data(as_text=True)
    css = client.get(url)
    assert css.mimetype == "text/css"
    assert "--brand: #7a1f5c;" in css.get_data(as_text=True)
    assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/practice/accent-000000000000.css").status_code == 404


def test_default_profile_has_no_logo_colour_hours_or_physicians_of_its_own(client):
    page = client.get("/").get_data(as_text=True)
    assert "/practice/" not in page  # neither a logo nor an accent stylesheet
    assert "Opening hours" not in page and "Our physicians" not in page
    assert '<a class="brand" href="/">Boston Out-Patient Surgical Suites</a>' in page


def test_logo_is_shown_with_its_alt_text_and_served_inert(make_app, tmp_path, monkeypatch):
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "logo.svg").write_bytes(SVG)
    app = app_with(
        make_app, tmp_path, monkeypatch, 'logo = "logo.svg"\nlogo_alt = "Lakeside Clinic"\n'
    )
    client = app.test_client()
    url = app.extensions["practice_assets"]["logo_url"]
    page = client.get("/").get_data(as_text=True)
    assert f'<img class="brand__logo" src="{url}" alt="Lakeside Clinic">' in page
    logo = client.get(url)
    assert logo.data == SVG and logo.mimetype == "image/svg+xml"
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in logo.headers["Content-Security-Policy"]
    assert "default-src 'none'" in logo.headers["Content-Security-Policy"]
    assert logo.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/practice/logo-000000000000.svg").status_code == 404


@pytest.mark.parametrize(
    "profile, expected",
    [
        ('logo = "../config.py"\nlogo_alt = "x"\n', "logo must be a file name in the instance"),
        ('logo = "logo.gif"\nlogo_alt = "x"\n', "logo must be an .svg or .png file"),
        ('logo = "missing.png"\nlogo_alt = "x"\n', "logo 'missing.png' is not in the instance"),
        ('logo = "logo.svg"\n', "logo needs logo_alt"),
        ('logo = "fake.png"\nlogo_alt = "x"\n', "logo 'fake.png' is not a PNG image"),
    ],
)
def test_logo_must_be_an_svg_or_png_in_the_instance_folder(
    make_app, tmp_path, monkeypatch, profile, expected
):
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "logo.svg").write_bytes(SVG)
    (tmp_path / "instance" / "fake.png").write_bytes(SVG)
    assert expected in problems(make_app, tmp_path, monkeypatch, profile)


def test_structured_hours_are_shown_in_words_in_the_footer_and_on_home(
    make_app, tmp_path, monkeypatch
):
    client = app_with(make_app, tmp_path, monkeypatch, HOURS).test_client()
    home = client.get("/").get_data(as_text=True)
    for line in (
        "Monday to Thursday, 7 am to 4 pm",
        "Friday, 7 am to 12 pm and 1 pm to 4:30 pm",
        "Saturday, 8 am to 12 pm",
    ):
        assert f"<li>{line}</li>" in home
    assert "Closed on the other days." in home
    # Past holidays are left out; the coming ones are listed in date order.
    assert '<time datetime="2099-01-01">Thursday, January 1, 2099</time> and ' in home
    assert '<time datetime="2099-12-25">' in home and "2000-01-01" not in home
    footer = client.get("/contact-us").get_data(as_text=True)
    assert (
        "<strong>Opening hours:</strong> Monday to Thursday, 7 am to 4 pm; Friday, 7 am to 12 pm "
        "and 1 pm to 4:30 pm; Saturday, 8 am to 12 pm</p>" in footer
    )


def test_free_text_hours_keep_working(make_app, tmp_path, monkeypatch):
    client = app_with(make_app, tmp_path, monkeypatch, 'hours = "Monday to Friday, 7 am to 4 pm"\n')
    page = client.test_client().get("/").get_data(as_text=True)
    assert "<strong>Opening hours:</strong> Monday to Friday, 7 am to 4 pm</p>" in page
    assert "<li>Monday to Friday, 7 am to 4 pm</li>" in page


@pytest.mark.parametrize(
    "hours, expected",
    [
        ('mon = ["7-16"]', '[hours] mon: "7-16" is not a period such as "07:00-16:00"'),
        ('tue = ["16:00-07:00"]', '[hours] tue: "16:00-07:00" is not a period'),
        ('monday = ["07:00-16:00"]', "[hours] has unknown keys ['monday']"),
        ('holidays = ["Christmas"]', '[hours] holidays: "Christmas" is not a date'),
    ],
)
def test_structured_hours_are_checked(make_app, tmp_path, monkeypatch, hours, expected):
    assert expected in problems(make_app, tmp_path, monkeypatch, f"[hours]\n{hours}\n")


def test_physicians_are_listed_on_home_when_the_profile_has_some(make_app, tmp_path, monkeypatch):
    app = app_with(
        make_app, tmp_path, monkeypatch, 'physicians = ["Dr. Ada Byron", "Dr. Grace Hopper"]\n'
    )
    page = app.test_client().get("/").get_data(as_text=True)
    assert '<h2 id="physicians">Our physicians</h2>' in page
    assert "<li>Dr. Ada Byron</li>" in page and "<li>Dr. Grace Hopper</li>" in page


def test_copyright_year_from_the_profile_when_set(make_app, tmp_path, monkeypatch):
    page = (
        app_with(make_app, tmp_path, monkeypatch, "copyright_year = 2023\n").test_client().get("/")
    )
    assert "© 2023 Boston Out-Patient Surgical Suites" in page.get_data(as_text=True)


def test_profile_check_command_says_what_is_wrong_and_what_is_valid(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(instance))
    runner = CliRunner()
    assert "uses the default profile" in runner.invoke(profile_cli, ["check"]).output
    (instance / "practice.toml").write_text('specialties = "Knee"\naccent_color = "#ffcc00"\n')
    refused = runner.invoke(profile_cli, ["check"])
    assert refused.exit_code == 1
    assert "2 problems in the practice profile" in refused.output
    assert "specialties must be a list of texts" in refused.output
    assert "accent_color #ffcc00 is too light" in refused.output
    (instance / "practice.toml").write_text('name = "Lakeside Clinic"\n' + HOURS)
    accepted = runner.invoke(profile_cli, ["check"])
    assert accepted.exit_code == 0 and "the profile is valid (Lakeside Clinic)" in accepted.output


def test_holidays_may_be_listed_at_the_top_level_beside_the_hours_table(
    make_app, tmp_path, monkeypatch
):
    profile = 'holidays = ["2099-12-25"]\n[hours]\nmon = ["07:00-16:00"]\n'
    app = app_with(make_app, tmp_path, monkeypatch, profile)
    assert app.extensions["practice"].upcoming_holidays == [date(2099, 12, 25)]
    twice = 'holidays = ["2099-12-25"]\n[hours]\nholidays = ["2099-12-26"]\n'
    assert "holidays are listed twice" in problems(make_app, tmp_path, monkeypatch, twice)
    no_table = 'holidays = ["2099-12-25"]\nhours = "Monday to Friday"\n'
    assert "holidays need opening hours as an [hours] table" in problems(
        make_app, tmp_path, monkeypatch, no_table
    )
