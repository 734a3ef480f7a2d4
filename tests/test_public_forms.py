"""The patient forms: every validation rule, with real requests through the test client."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import REFERENCE_ALPHABET, Submission

from .helpers import VALID_APPOINTMENT, VALID_CONTACT, form_tokens

REFERENCE = re.compile(rf"(APT|MSG)-[{REFERENCE_ALPHABET}]{{8}}")


def stored(app) -> list[Submission]:
    with app.app_context():
        return list(db.session.scalars(select(Submission).order_by(Submission.id)))


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Submission))


def test_valid_appointment_is_stored_before_the_confirmation(app, client, post_appointment):
    response = post_appointment()
    assert response.status_code == 303
    assert response.headers["Location"] == "/request-an-appointment/received"
    [submission] = stored(app)
    assert submission.form == "appointment"
    assert submission.first_name == "Siobhán" and submission.last_name == "O'Hara"
    assert submission.date_of_birth == date(1980, 3, 27)
    assert submission.phone == "+16172531000"
    assert submission.email == "siobhan@example.com"
    assert submission.preferred_days == "Monday, Thursday"
    assert submission.physician is None
    assert submission.message == "Knee pain when running.\nWorse on stairs."
    assert submission.status == "new"
    assert submission.created_at.tzinfo is not None
    assert abs(submission.created_at - datetime.now(UTC)) < timedelta(minutes=1)

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert submission.reference in page
    assert REFERENCE.fullmatch(submission.reference)
    assert submission.reference.startswith("APT-")
    assert "not a confirmed appointment" in page


def test_a_preferred_day_sent_many_times_is_stored_once(app, post_appointment):
    # Each copy is a valid choice; joined, twenty of them outgrew the column (a 503 on PostgreSQL).
    response = post_appointment(preferred_days=["Wednesday"] * 20 + ["Monday", "Wednesday"])
    assert response.status_code == 303
    [submission] = stored(app)
    assert submission.preferred_days == "Wednesday, Monday"


def test_valid_contact_message_is_stored(app, client, post_contact):
    response = post_contact(phone="781 209 5645")
    assert response.status_code == 303
    [submission] = stored(app)
    assert submission.reference.startswith("MSG-")
    assert submission.name == "山田 太郎"
    assert submission.topic == "Billing"
    assert submission.phone == "+17812095645"
    assert submission.reference in client.get("/contact-us/received").get_data(as_text=True)


def test_references_are_random_and_unambiguous(app, post_appointment):
    for _ in range(20):
        assert post_appointment().status_code == 303
    references = [s.reference for s in stored(app)]
    assert len(set(references)) == 20
    for reference in references:
        assert REFERENCE.fullmatch(reference)
        assert not set(reference[4:]) & set("0O1IL")
    bodies = sorted(r[4:] for r in references)
    assert bodies != [r[4:] for r in references] or len(set(r[4] for r in references)) > 1


def test_confirmation_without_a_submission_leads_back_to_the_form(client):
    response = client.get("/request-an-appointment/received")
    assert response.status_code == 302
    assert response.headers["Location"] == "/request-an-appointment"


@pytest.mark.parametrize(
    "first_name",
    ["O'Hara", "Nguyễn", "山田", "José-María", "Ngũgĩ wa Thiong'o", "a" * 100],
)
def test_names_in_any_script_are_accepted(app, post_appointment, first_name):
    assert post_appointment(first_name=first_name).status_code == 303
    assert stored(app)[0].first_name == first_name


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "Enter your first name"),
        ({"last_name": "   "}, "last_name", "Enter your last name"),
        ({"first_name": "a" * 101}, "first_name", "First name must be 100 characters or fewer"),
        ({"first_name": "Ann\r\nBcc: x@evil.example"}, "first_name", "must be on one line"),
        ({"last_name": "Smith\x00"}, "last_name", "must be on one line"),
        ({"last_name": "Sm\x07ith"}, "last_name", "must be on one line"),
        ({"insurance": "Blue\nCross"}, "insurance", "must be on one line"),
        ({"phone": ""}, "phone", "Enter your phone number"),
        ({"phone": "12345"}, "phone", "Enter a phone number"),
        ({"phone": "call me"}, "phone", "Enter a phone number"),
        ({"email": "not-an-email"}, "email", "Enter an email address"),
        ({"email": "a@b.example\r\nBcc: x@y.example"}, "email", "must be on one line"),
        ({"email": "", "contact_method": "email"}, "email", "Enter your email address, or choose"),
        ({"specialty": ""}, "specialty", "Select a specialty"),
        ({"specialty": "Brain transplant"}, "specialty", "Not a valid choice"),
        ({"contact_method": "pigeon"}, "contact_method", "Not a valid choice"),
        ({"reason": ""}, "reason", "Enter the reason for your visit"),
        ({"reason": "x" * 2001}, "reason", "2,000 characters or fewer"),
        ({"reason": "bad\x00byte"}, "reason", "must not contain special characters"),
        ({"consent": None}, "consent", "Confirm that you understand"),
    ],
)
def test_invalid_appointment_is_shown_again_with_422(
    app, post_appointment, overrides, field, message
):
    response = post_appointment(**overrides)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in page
    assert message in page
    assert count(app) == 0
    assert f'id="{field}-error"' in page
    # The summary links to the field (or its first option), which points back at its message.
    assert re.search(rf'<a href="#{field}(-0)?">[^<]*{re.escape(message)}', page)


def test_error_marks_the_field_and_keeps_every_typed_value(post_appointment):
    page = post_appointment(phone="12345", reason="Hip <b>pain</b> & stiffness").get_data(
        as_text=True
    )
    phone_input = re.search(r"<input[^>]*id=\"phone\"[^>]*>", page).group(0)
    assert 'aria-invalid="true"' in phone_input
    assert 'aria-describedby="phone-hint phone-error"' in phone_input
    assert 'value="12345"' in phone_input
    assert 'value="Siobhán"' in page
    assert 'value="O&#39;Hara"' in page
    assert "Hip &lt;b&gt;pain&lt;/b&gt; &amp; stiffness</textarea>" in page
    assert re.search(r'value="Thursday"[^>]*checked|checked[^>]*value="Thursday"', page)
    assert re.search(r'<option selected value="Total knee replacement">', page)
    assert 'value="27"' in page and 'value="1980"' in page
    assert "<title>Error: Request an appointment" in page


@pytest.mark.parametrize(
    ("month", "day", "year", "message", "invalid"),
    [
        ("", "", "", "Enter your date of birth", {"month", "day", "year"}),
        ("3", "", "1980", "must include a day", {"day"}),
        ("2", "30", "1980", "must be a real date", {"month", "day", "year"}),
        ("13", "1", "1980", "must be a real date", {"month", "day", "year"}),
        ("x", "1", "1980", "must be a real date", {"month"}),
        ("1", "1", "80", "must be a real date", {"year"}),
        ("1", "1", str(date.today().year + 1), "must be in the past", {"month", "day", "year"}),
        ("1", "1", str(date.today().year - 121), "within the last 120 years", {"year"}),
    ],
)
def test_date_of_birth_must_be_a_real_past_date(
    app, post_appointment, month, day, year, message, invalid
):
    response = post_appointment(
        **{"date_of_birth-month": month, "date_of_birth-day": day, "date_of_birth-year": year}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    for part in ("month", "day", "year"):
        tag = re.search(rf'<input[^>]*id="date_of_birth-{part}"[^>]*>', page).group(0)
        assert ('aria-invalid="true"' in tag) == (part in invalid), part
    first = next(p for p in ("month", "day", "year") if p in invalid)
    assert f'href="#date_of_birth-{first}"' in page
    assert count(app) == 0


@pytest.mark.parametrize("part", ["month", "day", "year"])
@pytest.mark.parametrize(
    "typed",
    [
        "9" * 20,  # int() of it overflowed date(): a 500 that lost what the patient typed
        "9" * 10_000,
        "-1",
        "+3",
        "1.5",
        "1e9",
        "0x1f",
        "1 2",
        "²",  # a superscript two: a digit, but not a decimal one
        "12345",
    ],
)
def test_date_of_birth_part_that_is_not_a_small_number_gets_the_field_error(
    app, post_appointment, part, typed
):
    response = post_appointment(**{f"date_of_birth-{part}": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Date of birth must be a real date, like 3 27 1980" in page
    tag = re.search(rf'<input[^>]*id="date_of_birth-{part}"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in tag
    assert 'value="Siobhán"' in page  # what the patient typed is given back
    assert count(app) == 0


def test_leap_day_and_oldest_allowed_birth_date_are_accepted(app, post_appointment):
    assert (
        post_appointment(
            **{"date_of_birth-month": "02", "date_of_birth-day": "29", "date_of_birth-year": "2000"}
        ).status_code
        == 303
    )
    assert stored(app)[0].date_of_birth == date(2000, 2, 29)


def test_international_phone_is_stored_in_e164(app, post_appointment):
    assert post_appointment(phone="+44 20 7946 0958").status_code == 303
    assert stored(app)[0].phone == "+442079460958"


def test_email_is_checked_offline_and_normalised(app, post_contact):
    assert post_contact(email="Taro@Example.COM").status_code == 303
    assert stored(app)[0].email == "Taro@example.com"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "Enter your name"),
        ({"email": ""}, "Enter your email address"),
        ({"message": ""}, "Enter your message"),
        ({"message": "m" * 2001}, "Message must be 2,000 characters or fewer"),
        ({"phone": "555"}, "Enter a phone number"),
        ({"topic": "Lottery"}, "Not a valid choice"),
    ],
)
def test_invalid_contact_message_is_shown_again_with_422(app, post_contact, overrides, message):
    response = post_contact(**overrides)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app) == 0


INVISIBLE = "contains an invisible character (such as a text direction mark or a zero-width space)"


@pytest.mark.parametrize(
    ("form", "field", "typed"),
    [
        ("appointment", "first_name", "ZZRTL\u202egnp.exe"),  # right-to-left override
        ("appointment", "last_name", "\u2067O'Hara\u2069"),  # right-to-left isolate
        ("appointment", "last_name", "O'Ha\u200bra"),  # zero-width space
        ("appointment", "insurance", "Blue\u200dCross"),  # zero-width joiner
        ("appointment", "referring_physician", "\ufeffDr. Nguyễn"),  # byte order mark
        ("appointment", "phone", "(617) 253-1000\u200e"),  # left-to-right mark
        ("appointment", "email", "siobhan@exam\u00adple.com"),  # soft hyphen
        ("contact", "name", "\u202b山田 太郎"),  # right-to-left embedding
        ("contact", "email", "taro\u2060@example.com"),  # word joiner
        ("contact", "phone", "\u2066617-253-1000"),  # left-to-right isolate
    ],
)
def test_one_line_fields_refuse_invisible_format_characters(
    app, post_appointment, post_contact, form, field, typed
):
    post = post_appointment if form == "appointment" else post_contact
    response = post(**{field: typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<p class="error-message" id="{field}-error">.*{re.escape(INVISIBLE)}', page)
    assert count(app) == 0


def test_message_and_reason_drop_invisible_format_characters(app, post_appointment, post_contact):
    reason = "\u202eKnee pain\u200b when running.\nWorse on\u2066 stairs.\u2069\ufeff"
    assert post_appointment(reason=reason).status_code == 303
    assert post_contact(message="\u200bA question\u202c about my bill.\u200f").status_code == 303
    first, second = stored(app)
    assert first.message == "Knee pain when running.\nWorse on stairs."
    assert second.message == "A question about my bill."


def test_message_of_only_invisible_characters_is_missing(app, post_contact):
    response = post_contact(message="\u200b\u202e \u2066")
    assert response.status_code == 422
    assert "Enter your message" in response.get_data(as_text=True)
    assert count(app) == 0


def test_missing_csrf_token_gives_the_form_back_with_values_and_400(app, client):
    tokens = form_tokens(client, "/request-an-appointment")
    data = {**VALID_APPOINTMENT, "form_token": tokens["form_token"]}
    response = client.post("/request-an-appointment", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your form was not sent yet" in page
    assert 'value="Siobhán"' in page
    assert "Knee pain when running." in page
    assert count(app) == 0
    # The page carries a fresh token: sending it again works.
    again = {
        **data,
        "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1),
    }
    assert client.post("/request-an-appointment", data=again).status_code == 303
    assert count(app) == 1


def test_expired_csrf_token_keeps_typed_values(app, client, post_appointment, monkeypatch):
    tokens = form_tokens(client, "/request-an-appointment")
    app.config["WTF_CSRF_TIME_LIMIT"] = 1
    import time as time_module

    real_time = time_module.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real_time() + 3600)
    response = post_appointment(tokens)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your form was not sent yet" in page
    assert 'value="O&#39;Hara"' in page
    assert count(app) == 0


def test_session_lost_between_form_and_post_keeps_typed_values(app, client, post_appointment):
    tokens = form_tokens(client, "/request-an-appointment")
    client.delete_cookie("session")
    response = post_appointment(tokens)
    assert response.status_code == 400
    assert 'value="Siobhán"' in response.get_data(as_text=True)
    assert count(app) == 0


def test_double_submit_of_one_rendered_form_stores_one_submission(app, client, post_appointment):
    tokens = form_tokens(client, "/request-an-appointment")
    first = post_appointment(tokens)
    first_page = client.get(first.headers["Location"]).get_data(as_text=True)
    second = post_appointment(tokens)  # the reload of the POST, or the second click
    second_page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert first.status_code == second.status_code == 303
    [submission] = stored(app)
    assert submission.reference in first_page and submission.reference in second_page


def test_two_simultaneous_posts_of_one_form_store_one_submission(app, client):
    tokens = form_tokens(client, "/request-an-appointment")
    second_client = app.test_client()
    second_client.set_cookie("session", client.get_cookie("session").value)
    start = threading.Barrier(2)
    responses = {}

    def post(name, c):
        start.wait()
        responses[name] = c.post("/request-an-appointment", data={**VALID_APPOINTMENT, **tokens})

    threads = [
        threading.Thread(target=post, args=(n, c)) for n, c in (("a", client), ("b", second_client))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses.values()] == [303, 303]
    [submission] = stored(app)
    for c in (client, second_client):
        assert submission.reference in c.get("/request-an-appointment/received").get_data(
            as_text=True
        )


def test_two_renders_of_the_form_are_two_submissions(app, post_appointment):
    post_appointment()
    post_appointment()
    assert count(app) == 2


def test_forged_form_token_is_refused_without_storing(app, client, post_appointment):
    tokens = form_tokens(client, "/request-an-appointment")
    response = post_appointment({**tokens, "form_token": "short"})
    assert response.status_code == 400
    assert count(app) == 0


def test_body_over_64_kb_gets_the_friendly_413_page(app, post_appointment):
    response = post_appointment(reason="x" * (70 * 1024))
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "too long" in page
    assert "(781) 209-5645" in page
    assert count(app) == 0


def test_honeypot_shows_normal_confirmation_and_stores_nothing(app, client, post_appointment):
    response = post_appointment(portal_hp="http://spam.example")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Request received" in page
    assert REFERENCE.search(page)
    assert count(app) == 0


def test_honeypot_is_hidden_and_never_autofilled(client):
    page = client.get("/request-an-appointment").get_data(as_text=True)
    trap = re.search(r'<div class="trap">.*?</div>', page, re.S).group(0)
    assert 'autocomplete="off"' in trap and 'tabindex="-1"' in trap
    with client.get("/static/css/portal.css") as response:
        css = response.get_data(as_text=True)
    assert re.search(r"\.trap\s*\{\s*display:\s*none", css)


def test_each_visitor_gets_their_own_tokens_in_the_reused_empty_form(app, client):
    other = app.test_client()
    mine, theirs = form_tokens(client, "/contact-us"), form_tokens(other, "/contact-us")
    assert mine["form_token"] != theirs["form_token"]
    assert mine["csrf_token"] != theirs["csrf_token"]
    assert "slot" not in client.get("/contact-us").get_data(as_text=True)
    # A token only works in the session it was given to.
    swapped = other.post("/contact-us", data={**VALID_CONTACT, **mine})
    assert swapped.status_code == 400
    assert other.post("/contact-us", data={**VALID_CONTACT, **theirs}).status_code == 303


def test_answers_given_back_after_a_post_are_never_cached(post_appointment, client):
    assert post_appointment(phone="12345").headers["Cache-Control"] == "no-store"
    assert post_appointment().headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/request-an-appointment").headers.get("Cache-Control", "")


# --- Fuzzing: whatever a patient (or anyone) types into any field, the answer is never a 5xx ---

# Any character that can travel in a UTF-8 form body (lone surrogates cannot).
ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
TOKEN_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
NUMBERS = st.integers(min_value=-(10**40), max_value=10**40).map(str)
# What may arrive in any field: nothing at all, empty, white space, random Unicode, a huge or
# negative number, digits of other scripts, or 10,000 characters.
TYPED = st.one_of(
    st.none(),  # the field is not in the body at all
    st.just(""),
    st.sampled_from([" ", "\t", "\r\n", "\u00a0", "\u3000", " \u2028 ", "\u200b", "\u202e"]),
    st.text(ANY_CHARACTER, max_size=40),
    NUMBERS,
    st.sampled_from(["9" * 20, "1e999", "-0", "NaN", "\u0661\u0662", "\uff11\uff12", "\u00b2"]),
    st.text(ANY_CHARACTER, min_size=1, max_size=3).map(lambda s: (s * 10_000)[:10_000]),
)
# A date-of-birth part is meant to be a number: try digits of every length there too.
DATE_PART = st.one_of(
    st.integers(min_value=1, max_value=30).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    ),
    NUMBERS,
    TYPED,
)
# Most bodies carry tokens that pass, so that they reach every validator and the database.
TOKEN_CASES = ["pass"] * 7 + ["forged CSRF token", "any form token", "honeypot filled"]


def fuzzed(valid: dict) -> st.SearchStrategy[dict]:
    """A form body: a valid one with one field, a few, or all of them replaced by anything."""
    names = list(valid)

    @st.composite
    def body(draw: st.DrawFn) -> dict:
        data = dict(valid)
        chosen = draw(
            st.one_of(
                st.sampled_from(names).map(lambda name: [name]),
                st.lists(st.sampled_from(names), min_size=2, max_size=4, unique=True),
                st.just(names),
            )
        )
        for name in chosen:
            if name.startswith("date_of_birth-"):
                data[name] = draw(DATE_PART)
            elif name == "preferred_days":
                data[name] = draw(st.lists(TYPED.filter(lambda v: v is not None), max_size=3))
            else:
                data[name] = draw(TYPED)
        case = draw(st.sampled_from(TOKEN_CASES))
        data["form_token"] = draw(
            TYPED
            if case == "any form token"
            else st.text(TOKEN_CHARACTERS, min_size=43, max_size=43)
        )
        data["portal_hp"] = draw(TYPED.filter(bool)) if case == "honeypot filled" else ""
        data["csrf_ok"] = case != "forged CSRF token"
        return data

    return body()


# Bounded so that the whole fuzz takes seconds; every run draws new examples.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # nothing written to the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def send_fuzzed(client, url: str, body: dict) -> None:
    """POST one fuzzed body with this session's CSRF token (or a forged one): never a 5xx."""
    data = {key: value for key, value in body.items() if value is not None and key != "csrf_ok"}
    data["csrf_token"] = form_tokens(client, url)["csrf_token"] if body["csrf_ok"] else "forged"
    response = client.post(url, data=data)
    assert response.status_code in {303, 400, 413, 422}, (response.status_code, body)


# As a browser sends them: with the preferred language (and interpreter) a rendered form asks.
ASKED_APPOINTMENT = {**VALID_APPOINTMENT, "preferred_language": "es", "interpreter": "yes"}
ASKED_CONTACT = {**VALID_CONTACT, "preferred_language": "pt-BR"}


@FUZZ
@given(body=fuzzed(ASKED_APPOINTMENT))
def test_no_input_in_any_appointment_field_gives_a_5xx(client, body):
    send_fuzzed(client, "/request-an-appointment", body)


@settings(FUZZ, max_examples=100)  # six fields: fewer examples cover them as well
@given(body=fuzzed(ASKED_CONTACT))
def test_no_input_in_any_contact_field_gives_a_5xx(client, body):
    send_fuzzed(client, "/contact-us", body)


@pytest.mark.parametrize("url", ["/request-an-appointment", "/contact-us"])
@pytest.mark.parametrize("raw", ["%FF%FE", "%C0%80", "%ED%A0%80", "%F4%90%80%80", "%00"])
def test_bytes_that_are_not_utf8_in_every_field_never_give_a_5xx(client, url, raw):
    fields = VALID_APPOINTMENT if url == "/request-an-appointment" else VALID_CONTACT
    tokens = form_tokens(client, url)
    body = "&".join(
        [f"{name}=a{raw}b" for name in fields] + [f"{k}={v}" for k, v in tokens.items()]
    )
    response = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422


@pytest.mark.parametrize(
    "path", ["/request-an-appointment", "/contact-us", "/es/request-an-appointment"]
)
def test_a_head_request_of_a_form_page_is_answered_like_its_get(client, path):
    # Link checkers and uptime monitors ask with HEAD; it stores nothing and is no bad request.
    head, get = client.head(path), client.get(path)
    assert head.status_code == get.status_code == 200
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.get_data() == b""
