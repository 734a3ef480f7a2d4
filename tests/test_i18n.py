"""The patients' pages in Spanish and Portuguese: catalogues, prefixed URLs, the page's language in
headers and markup, forms and their messages, the practice's own words and the acknowledgement."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage, Submission

from .helpers import VALID_APPOINTMENT, VALID_CONTACT, form_tokens
from .test_outbox import deliver

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
SHIPPED = ("es", "pt_BR")
PUBLIC_PAGES = ("/", "/request-an-appointment", "/contact-us", "/notices/privacy-practices")


def read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def catalogue(tag: str) -> Catalog:
    return read(TRANSLATIONS / tag / "LC_MESSAGES" / "messages.po")


def with_profile(make_app, tmp_path: Path, toml: str, **settings):
    """An app whose instance folder holds this practice.toml."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "practice.toml").write_text(toml)
    return make_app(**settings)


# --- The catalogues ---------------------------------------------------------------------------


@pytest.mark.parametrize("tag", SHIPPED)
def test_a_shipped_catalogue_translates_every_message_and_none_is_fuzzy(tag):
    template = {m.id for m in read(TRANSLATIONS / "messages.pot") if m.id}
    po = catalogue(tag)
    assert not po.fuzzy, f"{tag}: the catalogue itself is marked fuzzy"
    translated = {m.id for m in po if m.id and m.string and not m.fuzzy}
    assert sorted(template - translated) == [], f"{tag}: untranslated or fuzzy"
    assert [m.id for m in po if m.id and m.fuzzy] == []


@pytest.mark.parametrize("tag", SHIPPED)
def test_a_compiled_catalogue_matches_its_po_file(tag):
    with (TRANSLATIONS / tag / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    source = {m.id: m.string for m in catalogue(tag) if m.id}
    assert compiled == source, f"{tag}: run `make translations` (pybabel compile)"


@pytest.mark.parametrize("tag", SHIPPED)
def test_translations_keep_every_placeholder(tag):
    for message in catalogue(tag):
        if not message.id:
            continue
        names = sorted(re.findall(r"%\(\w+\)s|\{\w+\}", message.id))
        assert sorted(re.findall(r"%\(\w+\)s|\{\w+\}", message.string)) == names, message.id


def test_pybabel_extract_finds_no_message_missing_from_the_catalogues(tmp_path):
    """What `make translations` extracts today is all in the template and every catalogue."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    extracted = {m.id for m in read(pot) if m.id}
    assert len(extracted) > 150  # the forms, pages, errors and emails, not an empty run
    shipped = {m.id for m in read(TRANSLATIONS / "messages.pot") if m.id}
    assert sorted(extracted - shipped) == [], "run `make translations`"
    for tag in SHIPPED:
        assert sorted(extracted - {m.id for m in catalogue(tag) if m.string}) == [], tag


# --- URLs and the page's language ------------------------------------------------------------


def test_every_public_route_has_a_copy_under_each_language_prefix(app):
    rules: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        rules.setdefault(rule.endpoint, set()).add(rule.rule)
    public = {e: r for e, r in rules.items() if e.startswith("public.")}
    assert "public.contact_us" in public
    for endpoint, paths in public.items():
        plain = [p for p in paths if not p.startswith("/<")]
        assert len(plain) == 1, endpoint
        assert any(p.startswith("/<any(") and p.endswith(plain[0]) for p in paths), endpoint
    assert not any(
        r.startswith("/<") for e, rs in rules.items() if e.startswith("admin.") for r in rs
    )


@pytest.mark.parametrize(
    ("prefix", "tag", "heading"),
    [("", "en", "Contact us"), ("/es", "es", "Contáctenos"), ("/pt-br", "pt-BR", "Fale conosco")],
)
def test_a_page_says_its_language_in_html_and_headers(client, prefix, tag, heading):
    response = client.get(f"{prefix}/contact-us")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == tag
    assert f'<html lang="{tag}" dir="ltr">' in page
    assert f"<h1>{heading}</h1>" in page
    others = {"en": "/contact-us", "es": "/es/contact-us", "pt-BR": "/pt-br/contact-us"}
    del others[tag]
    for other, path in others.items():
        assert (
            f'<link rel="alternate" hreflang="{other}" href="http://127.0.0.1:5000{path}">' in page
        )
    # Every link between patient pages stays in the language.
    assert f'action="{prefix}/contact-us"' in page
    assert f'href="{prefix}/request-an-appointment"' in page


def test_the_home_pages_are_at_the_prefix_with_a_slash(client):
    assert client.get("/es/").headers["Content-Language"] == "es"
    assert client.get("/pt-br/").status_code == 200
    assert client.get("/fr/").status_code == 404


def test_the_language_switcher_follows_the_gov_uk_pattern(client):
    page = client.get("/es/request-an-appointment").get_data(as_text=True)
    nav = re.search(r'<nav class="language-select" aria-label="Idioma">.*?</nav>', page, re.S)
    assert nav is not None
    html = nav.group(0)
    assert '<span aria-current="true">Español</span>' in html
    assert (
        '<a href="/request-an-appointment" hreflang="en" lang="en" rel="alternate">English</a>'
        in html
    )
    assert (
        '<a href="/pt-br/request-an-appointment" hreflang="pt-BR" lang="pt-BR" '
        'rel="alternate">Português</a>' in html
    )


@pytest.mark.parametrize(
    ("accept", "path", "offer"),
    [
        ("es-US,es;q=0.9,en;q=0.5", "/contact-us", "Ver esta página en español"),
        ("pt-BR,pt;q=0.9", "/es/contact-us", "Ver esta página em português"),
        ("pt-PT", "/", "Ver esta página em português"),
        ("en-US,en;q=0.9", "/es/", "View this page in English"),
    ],
)
def test_the_browsers_language_is_offered_not_imposed(client, accept, path, offer):
    response = client.get(path, headers={"Accept-Language": accept})
    assert response.status_code == 200  # no redirect
    page = response.get_data(as_text=True)
    line = re.search(r'<p class="language-offer" lang="([^"]+)"[^>]*><a href="([^"]+)"', page)
    assert line is not None and offer in page
    assert line.group(2).endswith(path.removeprefix("/es").removeprefix("/pt-br") or "/")
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize("accept", [None, "es", "fr-FR,fr;q=0.9"])
def test_no_offer_when_the_browser_wants_this_language_or_none_offered(client, accept):
    headers = {"Accept-Language": accept} if accept else {}
    assert "language-offer" not in client.get("/es/", headers=headers).get_data(as_text=True)


def test_the_cached_empty_form_is_one_per_language_and_offer(client):
    spanish = client.get("/es/request-an-appointment").get_data(as_text=True)
    english = client.get("/request-an-appointment").get_data(as_text=True)
    offered = client.get("/request-an-appointment", headers={"Accept-Language": "pt-BR"}).get_data(
        as_text=True
    )
    assert "Enviar solicitud" in spanish and "Send request" in english
    assert "language-offer" not in english and "em português" in offered


def test_staff_pages_stay_in_english_without_a_switcher(client):
    page = client.get("/admin/login", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "language-select" not in page and "language-offer" not in page
    assert client.get("/es/admin/login").status_code == 404


@pytest.mark.parametrize(
    ("path", "title"),
    [("/es/no-such-page", "Página no encontrada"), ("/pt-br/nada", "Página não encontrada")],
)
def test_error_pages_are_in_the_language_of_their_url(client, path, title):
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert f"<h1>{title}</h1>" in page
    assert response.headers["Content-Language"] in ("es", "pt-BR")
    assert 'rel="alternate" hreflang' not in page  # no other versions of a page that is not


def right_to_left_app(make_app, tmp_path: Path):
    """The portal offering a right-to-left test locale: Arabic, with a one-message catalogue."""
    folder = tmp_path / "rtl-translations" / "ar" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    test_catalogue = Catalog(locale="ar")
    test_catalogue.add("Contact us", "اتصل بنا")
    with (folder / "messages.mo").open("wb") as fh:
        write_mo(fh, test_catalogue)
    return with_profile(
        make_app,
        tmp_path,
        'languages = ["en", "ar"]\n',
        BABEL_TRANSLATION_DIRECTORIES=f"translations;{tmp_path / 'rtl-translations'}",
    )


def test_a_right_to_left_language_lays_out_mirrored(make_app, tmp_path):
    app = right_to_left_app(make_app, tmp_path)
    response = app.test_client().get("/ar/contact-us")
    page = response.get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert "<h1>اتصل بنا</h1>" in page
    assert response.headers["Content-Language"] == "ar"


def test_a_language_without_a_catalogue_keeps_the_portal_from_starting(make_app, tmp_path):
    with pytest.raises(RuntimeError, match=r"\['fr'\].*docs/translating.md"):
        with_profile(make_app, tmp_path, 'languages = ["en", "fr"]\n')


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('languages = ["es", "en"]', 'must start with "en"'),
        ('languages = ["en", "xx-nope"]', "are not language tags"),
        ('languages = ["en", "es", "es"]', "the same language twice"),
        ('languages = "es"', "must be a list of language tags"),
        ('[translations.fr]\n"Billing" = "Facturation"', "is not one of the languages"),
        ('[translations.es]\n"Biling" = "Facturación"', "none of the profile's own words"),
    ],
)
def test_the_profiles_languages_and_translations_are_checked(tmp_path, toml, problem):
    from portal.practice import ProfileError, check_profile

    path = tmp_path / "practice.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ProfileError, match=re.escape(problem)):
        check_profile(path, tmp_path)


# --- The forms in Spanish and Portuguese -----------------------------------------------------


def post_in(client, prefix: str, path: str, data: dict):
    tokens = form_tokens(client, f"{prefix}{path}")
    return client.post(f"{prefix}{path}", data={**data, **tokens})


@pytest.mark.parametrize(
    ("prefix", "summary", "message"),
    [
        ("/es", "Hay un problema", "Escriba su nombre"),
        ("/pt-br", "Há um problema", "Digite seu nome"),
    ],
)
def test_validation_messages_are_in_the_pages_language(client, prefix, summary, message):
    response = post_in(
        client, prefix, "/request-an-appointment", {**VALID_APPOINTMENT, "first_name": ""}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["Content-Language"] in ("es", "pt-BR")
    assert summary in page and message in page
    assert "There is a problem" not in page and "Enter your" not in page


def test_date_and_length_messages_name_the_translated_label(client):
    page = post_in(
        client,
        "/es",
        "/request-an-appointment",
        {**VALID_APPOINTMENT, "date_of_birth-day": "", "last_name": "x" * 101},
    ).get_data(as_text=True)
    assert "«Fecha de nacimiento» debe incluir el día" in page
    assert "«Apellido» debe tener 100 caracteres como máximo" in page


@pytest.mark.parametrize(
    ("prefix", "heading"), [("/es", "Solicitud recibida"), ("/pt-br", "Solicitação recebida")]
)
def test_a_spanish_or_portuguese_post_stores_one_value_and_confirms_in_its_language(
    app, client, prefix, heading
):
    response = post_in(client, prefix, "/request-an-appointment", VALID_APPOINTMENT)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{prefix}/request-an-appointment/received"
    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    assert heading in confirmation
    with app.app_context():
        stored = db.session.scalars(select(Submission)).one()
        # The stored values are the same in every language: staff, routing and exports agree.
        assert stored.specialty == "Total knee replacement"
        assert stored.preferred_days == "Monday, Thursday"
        assert stored.contact_method == "phone"


def test_the_practices_own_words_are_translated_or_marked_english(make_app, tmp_path):
    client = with_profile(
        make_app,
        tmp_path,
        'specialties = ["Cardiology", "Total hip replacement"]\n'
        'contact_topics = ["Billing", "Parking"]\n'
        "[translations.es]\n"
        '"Cardiology" = "Cardiología"\n'
        '"Boston Out-Patient Surgical Suites" = "Centro Quirúrgico de Boston"\n',
    ).test_client()
    spanish = client.get("/es/request-an-appointment").get_data(as_text=True)
    assert '<option value="Cardiology">Cardiología</option>' in spanish
    assert '<option value="Total hip replacement">Reemplazo total de cadera</option>' in spanish
    assert "Centro Quirúrgico de Boston" in spanish
    portuguese = client.get("/pt-br/contact-us").get_data(as_text=True)
    assert '<option lang="en" value="Parking">Parking</option>' in portuguese
    assert '<option value="Billing">Cobrança</option>' in portuguese
    assert '<span lang="en">Boston Out-Patient Surgical Suites</span>' in portuguese
    assert '<span lang="en">' not in client.get("/contact-us").get_data(as_text=True)


def test_notices_are_translated_or_marked_english(make_app, tmp_path):
    client = with_profile(
        make_app,
        tmp_path,
        '[[notices]]\nslug = "billing-disclosure"\ntitle = "Billing Disclosure"\n'
        '[[notices]]\nslug = "parking"\ntitle = "Parking"\ntext = "Park in lot B."\n',
    ).test_client()
    page = client.get("/es/notices/billing-disclosure").get_data(as_text=True)
    assert "<h1>Información sobre facturación</h1>" in page
    assert "Para obtener una copia de «Información sobre facturación»" in page
    page = client.get("/pt-br/notices/parking").get_data(as_text=True)
    assert '<h1><span lang="en">Parking</span></h1>' in page
    assert '<div lang="en">\n<p>Park in lot B.</p>' in page
    assert '<a href="/pt-br/notices/parking"><span lang="en">Parking</span></a>' in page


def test_opening_hours_and_holidays_read_in_the_pages_language(make_app, tmp_path):
    client = with_profile(
        make_app,
        tmp_path,
        '[hours]\nmon = ["07:00-16:00"]\ntue = ["07:00-16:00"]\nwed = ["07:00-16:00"]\n'
        'thu = ["07:00-16:00"]\nfri = ["07:00-12:00", "13:00-16:00"]\nholidays = [2099-12-25]\n',
    ).test_client()
    english = client.get("/").get_data(as_text=True)
    assert "Monday to Thursday, 7 am to 4 pm" in english
    assert "Friday, December 25, 2099" in english
    spanish = client.get("/es/").get_data(as_text=True)
    assert "Lunes a jueves, 7:00 a 16:00" in spanish
    assert "viernes, 25 de diciembre de 2099" in spanish
    portuguese = client.get("/pt-br/").get_data(as_text=True)
    assert "Segunda-feira a quinta-feira, 07:00 às 16:00" in portuguese
    assert "sexta-feira, 25 de dezembro de 2099" in portuguese


def test_a_date_of_birth_is_shown_in_the_languages_format(app):
    from datetime import date

    from flask_babel import force_locale

    from portal.submissions import show_date

    with app.test_request_context("/es/"):
        assert show_date(date(1980, 3, 27)) == "27 de marzo de 1980"
        with force_locale("pt_BR"):
            assert show_date(date(1980, 3, 27)) == "27 de março de 1980"
    with app.test_request_context("/admin/"):
        assert show_date(date(1980, 3, 27)) == "March 27, 1980"


# --- The acknowledgement email ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "tag", "subject", "phrase"),
    [
        ("/es", "es", "Recibimos su mensaje — MSG-", "Gracias."),
        ("/pt-br", "pt-BR", "Recebemos sua mensagem — MSG-", "Obrigado."),
    ],
)
def test_the_acknowledgement_is_in_the_patients_language_and_the_front_desks_in_english(
    smtp_server, app, client, prefix, tag, subject, phrase
):
    app.config["FRONT_DESK_EMAILS"] = ["desk@practice.example"]
    assert post_in(client, prefix, "/contact-us", VALID_CONTACT).status_code == 303
    with app.app_context():
        stored = db.session.scalars(select(OutboxMessage)).all()
        languages = {m.recipient: (m.context or {}).get("language") for m in stored}
    assert languages == {"desk@practice.example": None, VALID_CONTACT["email"]: tag}
    deliver(app)
    received = {r.rcpt_tos[0]: r.message for r in smtp_server.wait_for(2)}
    patient = received[VALID_CONTACT["email"]]
    assert patient["Content-Language"] == tag
    assert patient["Subject"].startswith(subject)
    text = patient.get_body(("plain",)).get_content()
    html = patient.get_body(("html",)).get_content()
    assert phrase in text and phrase in html
    assert f'<html lang="{tag}">' in html
    assert "Thank you" not in text and "emergency" not in html
    desk = received["desk@practice.example"]
    assert desk["Content-Language"] is None
    assert desk["Subject"].startswith("New message — MSG-")


def test_the_front_desk_notification_stays_in_english_with_its_details(app, client):
    app.config.update(NOTIFY_INCLUDE_DETAILS=True, FRONT_DESK_EMAILS=["desk@practice.example"])
    assert post_in(client, "/es", "/request-an-appointment", VALID_APPOINTMENT).status_code == 303
    with app.app_context():
        desk = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == "desk@practice.example")
        ).one()
        context = dict(desk.context)
    assert context["form_label"] == "Appointment request"
    assert context["category_label"] == "Specialty"
    details = {label: text for label, text in context["details"]}
    assert details["Date of birth"] == "March 27, 1980"
    assert details["Preferred days"] == "Monday, Thursday"
    assert details["Specialty"] == "Total knee replacement"
    assert "language" not in context


@pytest.mark.parametrize(
    ("status", "title"),
    [(413, "Su formulario era demasiado largo para enviarlo"), (429, "Demasiadas solicitudes")],
)
def test_a_refused_post_answers_in_the_pages_language(app, client, status, title):
    if status == 429:
        app.config["FORM_POST_RATE_LIMIT"] = "1 per minute"
        post_in(client, "/es", "/contact-us", VALID_CONTACT)  # the one POST the limit allows
    data = {**VALID_CONTACT, "message": "x" * 70_000} if status == 413 else VALID_CONTACT
    response = client.post("/es/contact-us", data=data)
    assert response.status_code == status
    assert title in response.get_data(as_text=True)
    assert response.headers["Content-Language"] == "es"
