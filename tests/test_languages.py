"""The patient's preferred language and interpreter, carried to the front desk; the
language-assistance notice (Section 1557) with its taglines, each marked with its language."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import render_template
from sqlalchemy import select

from portal import fhir, languages
from portal.extensions import db
from portal.models import OutboxMessage, Submission
from portal.practice import Practice, ProfileError, check_profile
from portal.public.forms import AppointmentForm, page_language_option

from .admin_helpers import ADMIN, add_submission, make_user, sign_in
from .fhir_checks import validate_bundle
from .test_fhir import BASE, as_submission

RTL_TEXT = "إذا"  # a word of the Arabic tagline


def stored(app) -> Submission:
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        db.session.expunge_all()
        return submission


@pytest.fixture
def admin(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


class Elements(HTMLParser):
    """Every start tag's attributes, and the text directly inside each element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str, tag: str, **having: str) -> list[dict[str, str | None]]:
    parser = Elements()
    parser.feed(page)
    return [
        attrs
        for name, attrs in parser.tags
        if name == tag and all(attrs.get(k.rstrip("_")) == v for k, v in having.items())
    ]


# --- The questions ----------------------------------------------------------------------------


def test_preferred_language_lists_each_language_in_its_own_name_and_language(client):
    page = client.get("/request-an-appointment").get_data(as_text=True)
    select_tag = re.search(r'<select[^>]*name="preferred_language".*?</select>', page, re.S)[0]
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", select_tag)
    named = {re.search(r'value="([^"]*)"', attrs)[1]: (attrs, name) for attrs, name in options}
    assert list(named)[:3] == ["en", "es", "pt-BR"]  # the offered languages first
    assert named["es"][1] == "Español" and 'lang="es"' in named["es"][0]
    assert named["pt-BR"][1] == "Português" and 'lang="pt-BR"' in named["pt-BR"][0]
    assert named["zh"][1] == "中文" and named["ht"][1] == "Kreyòl Ayisyen"
    # Cantonese beside Chinese: each needs its own interpreter.
    assert named["yue"][1] == "粵語" and 'lang="yue"' in named["yue"][0]
    assert 'dir="rtl"' in named["ar"][0] and 'dir="rtl"' not in named["es"][0]
    # American Sign Language, whose name is written in English, so marked as English.
    assert list(named)[-2] == "ase" and named["ase"][1] == "American Sign Language"
    assert 'lang="en"' in named["ase"][0]
    # The last option is for any other language, in the page's language and with no lang.
    assert list(named)[-1] == "other" and named["other"][1] == "Other language"
    assert "lang=" not in named["other"][0]
    # A new form starts on the page's language.
    assert "selected" in named["en"][0]
    assert sum("selected" in attrs for attrs, _ in options) == 1
    assert re.search(
        r'<label class="label" for="preferred_language">Preferred language</label>', page
    )


def test_interpreter_question_is_an_optional_yes_or_no(client):
    page = client.get("/request-an-appointment").get_data(as_text=True)
    assert re.search(r"<legend class=\"legend\">Do you need an interpreter\?</legend>", page)
    assert "Optional. An interpreter is free of charge." in page
    for value, label in (("yes", "Yes"), ("no", "No")):
        assert re.search(
            rf'value="{value}">\s*<label class="choice__label" for="interpreter-\d">{label}<', page
        )


@pytest.mark.parametrize(("prefix", "expected"), [("", "en"), ("/es", "es"), ("/pt-br", "pt-BR")])
def test_a_new_form_starts_on_the_pages_language(app, prefix, expected):
    with app.test_request_context(f"{prefix}/request-an-appointment"):
        assert page_language_option(Practice()) == expected
        assert AppointmentForm(Practice()).preferred_language.data == expected


def test_a_page_in_a_language_the_profile_does_not_list_starts_on_its_first(app):
    with app.test_request_context("/es/"):
        assert page_language_option(Practice(languages=["en"], other_languages=[])) == "en"


def test_preferred_language_and_interpreter_are_stored(app, post_appointment):
    assert post_appointment(preferred_language="pt-BR", interpreter="yes").status_code == 303
    submission = stored(app)
    assert (submission.preferred_language, submission.interpreter) == ("pt-BR", "yes")


def test_other_language_is_stored_as_other(app, post_appointment):
    assert post_appointment(preferred_language="other", interpreter="no").status_code == 303
    assert (stored(app).preferred_language, stored(app).interpreter) == ("other", "no")


def test_a_form_from_before_the_questions_is_stored_without_them(app, post_appointment):
    assert post_appointment().status_code == 303  # neither field in the body
    submission = stored(app)
    assert submission.preferred_language is None and submission.interpreter is None


@pytest.mark.parametrize("value", ["xx", "EN-us", "", "de"])
def test_a_language_not_offered_is_refused_in_words(app, post_appointment, value):
    response = post_appointment(preferred_language=value)
    page = response.get_data(as_text=True)
    if value == "":
        assert response.status_code == 303  # empty is "not given", like an absent field
        return
    assert response.status_code == 422
    assert "Select your preferred language from the list" in page
    assert 'aria-describedby="preferred_language-error"' in page


def test_interpreter_answer_must_be_yes_or_no(app, post_appointment):
    response = post_appointment(interpreter="maybe")
    assert response.status_code == 422
    assert stored(app) is None


def test_contact_form_asks_the_preferred_language_and_stores_it(app, client, post_contact):
    page = client.get("/contact-us").get_data(as_text=True)
    assert 'name="preferred_language"' in page and 'name="interpreter"' not in page
    assert post_contact(preferred_language="vi").status_code == 303
    assert stored(app).preferred_language == "vi"


# --- Staff: inbox, submission page, exports, API, FHIR, the front desk's email ---------------


def test_inbox_row_shows_the_language_tag_and_interpreter(app, admin):
    spanish = add_submission(app, preferred_language="es", interpreter="yes")
    english = add_submission(app, preferred_language="en", interpreter="no")
    page = admin.get("/admin/").get_data(as_text=True)
    row = re.search(rf"{spanish}.*?</tr>", page, re.S)[0]
    assert re.search(
        r'<span class="tag tag--language" title="Spanish"><span aria-hidden="true">es</span>'
        r'<span class="visually-hidden">Spanish</span></span>',
        row,
    )
    assert '<span class="tag tag--interpreter">Interpreter</span>' in row
    # The practice's own (first) language needs no tag, nor a "no" any mention.
    other_row = re.search(rf"{english}.*?</tr>", page, re.S)[0]
    assert "tag--language" not in other_row and "tag--interpreter" not in other_row


def test_inbox_filters_by_language(app, admin):
    haitian = add_submission(app, preferred_language="ht")
    spanish = add_submission(app, preferred_language="es")
    other = add_submission(app, form="contact", preferred_language="other")
    page = admin.get("/admin/?language=ht").get_data(as_text=True)
    assert haitian in page and spanish not in page and other not in page
    assert '<option selected value="ht">Haitian Creole</option>' in page
    assert re.search(r'<label class="label" for="language">Language</label>', page)
    page = admin.get("/admin/?language=other").get_data(as_text=True)
    assert other in page and haitian not in page
    # A language the practice does not list is explained, and the filter left out.
    refused = admin.get("/admin/?language=xx")
    assert refused.status_code == 200 and "Not a valid choice" in refused.get_data(as_text=True)


def test_submission_page_shows_both_answers_in_words(app, admin):
    reference = add_submission(app, preferred_language="pt-BR", interpreter="yes")
    page = admin.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert re.search(r"<dt>Preferred language</dt>\s*<dd><bdi>Portuguese \(Brazil\)</bdi>", page)
    assert re.search(r"<dt>Do you need an interpreter\?</dt>\s*<dd><bdi>Yes</bdi>", page)


def test_exports_carry_the_language_and_the_interpreter(app, admin):
    add_submission(app, preferred_language="zh", interpreter="yes")
    add_submission(app, form="contact", preferred_language="other")
    text = admin.get("/admin/export.csv").get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_form = {row["Form"]: row for row in rows}
    assert by_form["Appointment request"]["Preferred language"] == "Chinese"
    assert by_form["Appointment request"]["Do you need an interpreter?"] == "Yes"
    assert by_form["Message"]["Preferred language"] == "Other language"
    assert by_form["Message"]["Do you need an interpreter?"] == ""  # not asked
    records = json.loads(admin.get("/admin/export.json?form=appointment").get_data())
    [record] = records if isinstance(records, list) else records["submissions"]
    assert (record["preferred_language"], record["interpreter"]) == ("Chinese", "Yes")


def test_api_gives_the_stored_tags(app, client):
    from .test_api import bearer, make_token

    token = make_token(app, "Mirth Connect")
    reference = add_submission(app, preferred_language="es", interpreter="no")
    fields = client.get(f"/api/v1/submissions/{reference}", headers=bearer(token)).get_json()
    assert fields["fields"]["preferred_language"] == "es"
    assert fields["fields"]["interpreter"] == "no"
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schema["AppointmentFields"]["properties"]["interpreter"]["enum"] == ["yes", "no", None]
    assert "preferred_language" in schema["ContactFields"]["required"]


def test_fhir_patient_needs_an_interpreter_by_the_core_extension():
    bundle = fhir.bundle(
        as_submission(preferred_language="ht", interpreter="yes"), BASE, Practice()
    )
    patient = validate_bundle(bundle, BASE, "APT-ABCDEFGH")["Patient"]
    assert patient["extension"] == [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired",
            "valueBoolean": True,
        }
    ]
    assert patient["communication"][0]["language"]["coding"][0]["code"] == "ht"
    declined = fhir.bundle(as_submission(interpreter="no"), BASE, Practice())
    assert (
        validate_bundle(declined, BASE, "APT-ABCDEFGH")["Patient"]["extension"][0]["valueBoolean"]
        is False
    )
    # "Other language" codes nothing; an unanswered interpreter question says nothing.
    other = fhir.bundle(as_submission(preferred_language="other"), BASE, Practice())
    patient = validate_bundle(other, BASE, "APT-ABCDEFGH")["Patient"]
    assert "communication" not in patient and "extension" not in patient


def notification_text(app) -> tuple[str, str]:
    with app.app_context():
        row = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "email/notification")
        )
        context = dict(row.context)
    with app.test_request_context():
        return (
            render_template("email/notification.txt", **context),
            render_template("email/notification.html", **context),
        )


def test_minimal_notification_says_the_language_and_the_interpreter(app, post_appointment):
    app.config.update(FRONT_DESK_EMAILS=["desk@practice.example"], NOTIFY_INCLUDE_DETAILS=False)
    assert post_appointment(preferred_language="es", interpreter="yes").status_code == 303
    text, html = notification_text(app)
    assert "Language: Spanish · Interpreter requested" in text
    assert "<strong>Language: Spanish · Interpreter requested</strong>" in html
    assert "no patient details" in text  # still the minimal email


def test_a_deaf_patients_sign_language_interpreter_reaches_every_staff_view(
    app, admin, post_appointment
):
    app.config.update(FRONT_DESK_EMAILS=["desk@practice.example"], NOTIFY_INCLUDE_DETAILS=False)
    assert post_appointment(preferred_language="ase", interpreter="yes").status_code == 303
    text, _ = notification_text(app)
    assert "Language: American Sign Language · Interpreter requested" in text
    reference = stored(app).reference
    page = admin.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert re.search(r"<dt>Preferred language</dt>\s*<dd><bdi>American Sign Language</bdi>", page)
    inbox = admin.get("/admin/?language=ase").get_data(as_text=True)
    assert reference in inbox and 'title="American Sign Language"' in inbox
    rows = list(
        csv.DictReader(io.StringIO(admin.get("/admin/export.csv").get_data().decode("utf-8-sig")))
    )
    assert rows[0]["Preferred language"] == "American Sign Language"
    bundle = fhir.bundle(as_submission(preferred_language="ase"), BASE, Practice())
    patient = validate_bundle(bundle, BASE, "APT-ABCDEFGH")["Patient"]
    assert patient["communication"][0]["language"]["coding"][0]["code"] == "ase"


def test_notification_without_an_interpreter_says_only_the_language(app, post_contact):
    app.config.update(FRONT_DESK_EMAILS=["desk@practice.example"])
    assert post_contact(preferred_language="pt-BR").status_code == 303
    text, _ = notification_text(app)
    assert "Language: Portuguese (Brazil)\n" in text and "Interpreter" not in text


# --- The language-assistance notice -----------------------------------------------------------


def test_notice_has_a_tagline_in_each_language_with_its_lang_and_direction(client):
    response = client.get("/language-assistance")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    taglines = elements(page, "li", class_="tagline")
    assert [t["lang"] for t in taglines] == languages.ASSISTANCE_LANGUAGES
    assert len(taglines) == 15
    for tagline in taglines:
        expected = "rtl" if tagline["lang"] == "ar" else None
        assert tagline.get("dir") == expected, tagline
    # Each says the practice's number as a link kept left to right.
    assert page.count('<a class="phone" href="tel:+17812095645" dir="ltr">(781) 209-5645</a>') == 16
    arabic = re.search(
        r'<li class="tagline" id="lang-ar" lang="ar" dir="rtl">(.*?)</li>', page, re.S
    )
    assert RTL_TEXT in arabic[1] and "العربية" in arabic[1]
    assert "TTY: 711" in page and "free auxiliary aids and services" in page


def test_every_public_page_links_the_notice_from_its_footer(client):
    for url in ("/", "/request-an-appointment", "/contact-us", "/notices/nondiscrimination"):
        page = client.get(url).get_data(as_text=True)
        footer = page[page.index('<footer class="site-footer">') :]
        assert '<a href="/language-assistance">Language assistance</a>' in footer, url


def test_home_page_links_the_notice_and_each_language_in_its_own_name(client):
    page = client.get("/").get_data(as_text=True)
    assert '<h2 id="language-help">Language assistance</h2>' in page
    assert '<a href="/language-assistance#lang-km" lang="km">ខ្មែរ</a>' in page
    assert '<a href="/language-assistance#lang-ar" lang="ar" dir="rtl">العربية</a>' in page


def profile(tmp_path: Path, text: str) -> Practice:
    path = tmp_path / "practice.toml"
    path.write_text(text, encoding="utf-8")
    return check_profile(path, tmp_path)


def test_a_practice_replaces_a_tagline_with_its_translators_text(tmp_path, make_app):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "practice.toml").write_text(
        'assistance_languages = ["es", "so"]\n'
        "[assistance_taglines]\n"
        'es = "Texto aprobado: llame al {phone}."\n'
        'so = "FIIRO GAAR AH: caawimaad luqadeed oo bilaash ah. Wac {phone}."\n',
        encoding="utf-8",
    )
    app = make_app()
    page = app.test_client().get("/language-assistance").get_data(as_text=True)
    taglines = elements(page, "li", class_="tagline")
    assert [t["lang"] for t in taglines] == ["es", "so"]
    assert "Texto aprobado: llame al <a" in page and "ATENCIÓN" not in page
    assert "Soomaali" in page


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('languages = ["en", "klingon"]', "['klingon'] are not language tags"),
        ("languages = []", "languages must be a list of language tags"),
        ('other_languages = ["klingon"]', '"klingon" is not a language tag'),
        # A sign language can be asked for, but no page is written in it.
        ('languages = ["en", "ase"]', "['ase'] are not language tags"),
        ('assistance_languages = ["es", "so"]', "the portal has no tagline in so"),
        ('[assistance_taglines]\nde = "Achtung {phone}"', "de is not one of assistance_languages"),
        ('[assistance_taglines]\nes = ""', "[assistance_taglines] es: the tagline must be a text"),
        ('assistance_taglines = "ATENCIÓN"', "assistance_taglines must be a [assistance_taglines]"),
    ],
)
def test_language_settings_are_checked(tmp_path, text, problem):
    with pytest.raises(ProfileError) as raised:
        profile(tmp_path, text)
    assert any(problem in line for line in raised.value.problems), raised.value.problems


def test_acknowledgement_ends_with_the_short_taglines(app, post_appointment):
    assert post_appointment().status_code == 303
    with app.app_context():
        row = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "email/acknowledgement")
        )
        context = dict(row.context)
    with app.test_request_context():
        text = render_template("email/acknowledgement.txt", **context)
        html = render_template("email/acknowledgement.html", **context)
    tail = text[text.index("Free language assistance") :]
    assert "Free language assistance: call (781) 209-5645 (TTY: 711)." in tail
    assert "Español: Ayuda gratuita en su idioma: llame al (781) 209-5645 (TTY: 711)." in tail
    assert len(tail.strip().splitlines()) == 1 + 15
    assert text.rstrip().endswith("(TTY: 711) પર ફોન કરો.")
    paragraphs = elements(html, "p", dir="rtl")
    assert [p["lang"] for p in paragraphs] == ["ar"]
    assert len(re.findall(r'<p lang="[^"]+" dir="(?:ltr|rtl)"', html)) == 15
