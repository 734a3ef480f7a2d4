"""The patient pages in Spanish and Portuguese in a real browser: both forms filled and sent by
the issue's labels, an invalid attempt first, the receipt in the patient's language, and axe-core
and the HTML checker on every public page and state in all three languages."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Submission

from .browser import assert_accessible, assert_fits, screenshot
from .test_outbox import deliver

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Words:
    """The labels of one language, as the issue gives them."""

    prefix: str
    tag: str
    first_name: str
    last_name: str
    date_of_birth: str
    month: str
    day: str
    year: str
    phone: str
    email: str
    contact_method: str
    by_email: str
    specialty: str
    physician: str
    no_preference: str
    patient_type: str
    returning: str
    days: str
    tuesday: str
    friday: str
    time: str
    afternoon: str
    insurance: str
    referring: str
    reason: str
    consent: str
    send_request: str
    name: str
    topic: str
    message: str
    send_message: str
    problem: str
    received: str
    sent: str
    missing_first_name: str
    missing_message: str
    subject: str
    preferred_language: str
    interpreter: str
    yes: str


SPANISH = Words(
    "/es",
    "es",
    "Nombre",
    "Apellido",
    "Fecha de nacimiento",
    "Mes",
    "Día",
    "Año",
    "Número de teléfono",
    "Correo electrónico",
    "¿Cómo prefiere que nos comuniquemos con usted?",
    "Correo electrónico",
    "Especialidad",
    "Médico",
    "Sin preferencia",
    "¿Es paciente nuevo?",
    "Ya soy paciente",
    "Días preferidos",
    "Martes",
    "Viernes",
    "Horario preferido",
    "Tarde",
    "Seguro médico",
    "Médico que lo refiere",
    "Motivo de la consulta",
    "Entiendo que esto es una solicitud, no una cita confirmada: la recepción se comunicará "
    "conmigo para acordar un horario. En una emergencia, llamaré al 911.",
    "Enviar solicitud",
    "Nombre completo",
    "Tema",
    "Mensaje",
    "Enviar mensaje",
    "Hay un problema",
    "Solicitud recibida",
    "Mensaje enviado",
    "Escriba su nombre",
    "Escriba su mensaje",
    "Recibimos su solicitud de cita",
    "Idioma preferido",
    "¿Necesita un intérprete?",
    "Sí",
)
PORTUGUESE = Words(
    "/pt-br",
    "pt-BR",
    "Nome",
    "Sobrenome",
    "Data de nascimento",
    "Mês",
    "Dia",
    "Ano",
    "Número de telefone",
    "E-mail",
    "Como prefere que entremos em contato?",
    "E-mail",
    "Especialidade",
    "Médico",
    "Sem preferência",
    "É paciente novo?",
    "Já sou paciente",
    "Dias preferidos",
    "Terça-feira",
    "Sexta-feira",
    "Horário preferido",
    "Tarde",
    "Plano de saúde",
    "Médico que encaminhou",
    "Motivo da consulta",
    "Entendo que isto é uma solicitação, não uma consulta confirmada: a recepção entrará em "
    "contato comigo para combinar um horário. Em caso de emergência, vou ligar para o 911.",
    "Enviar solicitação",
    "Nome completo",
    "Assunto",
    "Mensagem",
    "Enviar mensagem",
    "Há um problema",
    "Solicitação recebida",
    "Mensagem enviada",
    "Digite seu nome",
    "Digite sua mensagem",
    "Recebemos sua solicitação de consulta",
    "Idioma preferido",
    "Precisa de um intérprete?",
    "Sim",
)
LANGUAGES = pytest.mark.parametrize("words", [SPANISH, PORTUGUESE], ids=["es", "pt-BR"])


def stored(app) -> Submission:
    with app.app_context():
        return db.session.scalars(select(Submission)).one()


def fill_appointment(page: Page, w: Words) -> None:
    page.get_by_label(w.first_name, exact=True).fill("María José")
    page.get_by_label(w.last_name, exact=True).fill("Gonçalves")
    birth = page.get_by_role("group", name=w.date_of_birth)
    birth.get_by_label(w.month, exact=True).fill("3")
    birth.get_by_label(w.day, exact=True).fill("27")
    birth.get_by_label(w.year, exact=True).fill("1980")
    page.get_by_label(w.phone, exact=True).fill("617-253-1000")
    # The email box and the "by email" choice share a name: the box is the textbox.
    page.get_by_role("textbox", name=w.email, exact=True).fill("paciente@example.com")
    page.get_by_role("group", name=w.contact_method).get_by_label(w.by_email, exact=True).check()
    # The preferred language starts on the page's own.
    expect(page.get_by_label(w.preferred_language, exact=True)).to_have_value(w.tag)
    page.get_by_role("group", name=w.interpreter).get_by_label(w.yes, exact=True).check()
    page.get_by_label(w.specialty, exact=True).select_option(value="Total hip replacement")
    page.get_by_label(w.physician, exact=True).select_option(label=w.no_preference)
    page.get_by_role("group", name=w.patient_type).get_by_label(w.returning, exact=True).check()
    days = page.get_by_role("group", name=w.days)
    days.get_by_label(w.tuesday, exact=True).check()
    days.get_by_label(w.friday, exact=True).check()
    page.get_by_role("group", name=w.time).get_by_label(w.afternoon, exact=True).check()
    page.get_by_label(w.insurance, exact=True).fill("MassHealth")
    page.get_by_label(w.referring, exact=True).fill("Dra. Pereira")
    page.get_by_label(w.reason, exact=True).fill("Dolor de cadera / dor no quadril.")
    page.get_by_label(w.consent, exact=True).check()


@LANGUAGES
def test_patient_requests_an_appointment_in_their_language(
    smtp_server, app, live_server, page: Page, words: Words
):
    page.goto(f"{live_server}{words.prefix}/request-an-appointment")
    expect(page.locator("html")).to_have_attribute("lang", words.tag)
    assert_accessible(page, f"{words.tag} appointment form, empty")

    # An invalid attempt: the summary and each message in the page's language.
    page.get_by_label(words.last_name, exact=True).fill("Gonçalves")
    page.get_by_role("button", name=words.send_request).click()
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading", name=words.problem)).to_be_visible()
    expect(summary.get_by_role("link", name=words.missing_first_name, exact=True)).to_be_visible()
    expect(page.get_by_label(words.first_name, exact=True)).to_have_accessible_description(
        re.compile(words.missing_first_name)
    )
    expect(page.locator("html")).to_have_attribute("lang", words.tag)
    assert_accessible(page, f"{words.tag} appointment form with errors")
    screenshot(page, f"{words.tag}-appointment-errors", (375,))
    assert_fits(page, 375)
    assert_fits(page, 320)

    fill_appointment(page, words)
    page.get_by_role("button", name=words.send_request).click()
    expect(page.get_by_role("heading", name=words.received)).to_be_visible()
    assert page.url.endswith(f"{words.prefix}/request-an-appointment/received")
    assert_accessible(page, f"{words.tag} appointment confirmation")
    screenshot(page, f"{words.tag}-appointment-received", (375,))

    submission = stored(app)
    assert submission.first_name == "María José" and submission.contact_method == "email"
    assert submission.specialty == "Total hip replacement"
    assert submission.preferred_days == "Tuesday, Friday"
    assert submission.patient_type == "returning" and submission.preferred_time == "afternoon"
    assert (submission.preferred_language, submission.interpreter) == (words.tag, "yes")

    deliver(app)
    receipts = [
        r.message for r in smtp_server.wait_for(1) if r.rcpt_tos == ["paciente@example.com"]
    ]
    assert len(receipts) == 1
    assert receipts[0]["Content-Language"] == words.tag
    assert receipts[0]["Subject"].startswith(words.subject)


@LANGUAGES
def test_patient_sends_a_message_in_their_language(app, live_server, page: Page, words: Words):
    page.goto(f"{live_server}{words.prefix}/contact-us")
    page.get_by_role("button", name=words.send_message).click()
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading", name=words.problem)).to_be_visible()
    expect(summary.get_by_role("link", name=words.missing_message)).to_be_visible()
    assert_accessible(page, f"{words.tag} contact form with errors")
    screenshot(page, f"{words.tag}-contact-errors", (375,))
    assert_fits(page, 375)

    page.get_by_label(words.name, exact=True).fill("João da Silva")
    page.get_by_label(words.email, exact=True).fill("joao@example.com")
    page.get_by_label(words.phone, exact=True).fill("(781) 209-5645")
    page.get_by_label(words.topic, exact=True).select_option(value="Medical records")
    page.get_by_label(words.message, exact=True).fill("Preciso do meu prontuário.")
    page.get_by_role("button", name=words.send_message).click()
    expect(page.get_by_role("heading", name=words.sent)).to_be_visible()
    assert_accessible(page, f"{words.tag} contact confirmation")
    assert stored(app).topic == "Medical records"
    assert stored(app).preferred_language == words.tag


TOO_MANY = {
    "": "Too many requests from your connection",
    "/es": "Demasiadas solicitudes desde su conexión",
    "/pt-br": "Solicitações demais a partir da sua conexão",
}


@pytest.mark.parametrize("prefix", ["", "/es", "/pt-br"])
def test_every_public_page_passes_axe_in_every_language(app, live_server, page: Page, prefix):
    page.set_extra_http_headers({"Accept-Language": "pt-BR" if prefix != "/pt-br" else "es"})
    for state, path in {
        "home": "/",
        "appointment": "/request-an-appointment",
        "contact": "/contact-us",
        "notice": "/notices/privacy-practices",
        "language assistance": "/language-assistance",
        "not found": "/no-such-page",
    }.items():
        page.goto(f"{live_server}{prefix}{path}")
        # The line offering the browser's language is part of every state here.
        expect(page.locator(".language-offer")).to_be_visible()
        assert_accessible(page, f"{prefix or 'en'} {state}")
        assert_fits(page)
    for path in ("/request-an-appointment", "/contact-us"):
        page.goto(f"{live_server}{prefix}{path}")
        page.locator("form button[type=submit]").click()
        expect(page.locator(".error-summary")).to_be_visible()
        assert_accessible(page, f"{prefix or 'en'} {path} with errors")
    # The session ended while the form was open: "send it again".
    page.goto(f"{live_server}{prefix}/contact-us")
    page.context.clear_cookies()
    page.locator("form button[type=submit]").click()
    expect(page.locator(".notice--warning")).to_be_visible()
    assert_accessible(page, f"{prefix or 'en'} contact form, send again")
    # Over the limit of posts: the 429 page.
    app.config["FORM_POST_RATE_LIMIT"] = "1 per minute"
    page.goto(f"{live_server}{prefix}/contact-us")
    for _ in range(2):  # the first is counted, the second refused
        page.locator("form button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TOO_MANY[prefix])
    assert_accessible(page, f"{prefix or 'en'} 429 page")


def test_the_language_switcher_moves_between_versions_of_a_page(live_server, page: Page):
    page.goto(f"{live_server}/contact-us")
    switcher = page.get_by_role("navigation", name="Language")
    expect(switcher.locator('[aria-current="true"]')).to_have_text("English")
    switcher.get_by_role("link", name="Español").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contáctenos")
    assert page.url.endswith("/es/contact-us")
    page.get_by_role("navigation", name="Idioma").get_by_role("link", name="Português").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fale conosco")
    screenshot(page, "pt-BR-contact", (375, 1280))
