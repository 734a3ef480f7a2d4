"""The languages of the patients' pages: which are offered, which one a request is in, and the
prefixed URLs (``/es/…``, ``/pt-br/…``) of every route of the public blueprint.

The profile lists the offered languages (``languages = ["en", "es", "pt-BR"]``); the first is the
default, served at the unprefixed URLs. A request's language is read from the first segment of
its path alone, so pages, redirects, form posts and error pages (a 404 under ``/es/`` too) all
agree, and staff pages (``/admin``) and anything outside the patients' pages stay in the default.
Everything per language (its Babel locale, own name, direction, the "View this page in …" line)
is worked out once at start, so a request only splits its path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from flask import Flask, current_app, has_request_context, request
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from .languages import own_name
from .practice import OpeningHours, Practice
from .practice.hours import us_clock

# The public blueprint: each of its routes gets one prefixed copy per non-default language.
PUBLIC = "public"
# The default language's own words: the profile is written in it.
SOURCE = "en"


def babel_name(tag: str) -> str:
    """A BCP 47 tag as Babel and the catalogue folders name it: pt-BR -> pt_BR."""
    return tag.replace("-", "_")


def parse_tag(tag: str) -> Locale:
    """Babel's locale for a BCP 47 tag; UnknownLocaleError or ValueError when it names none."""
    return Locale.parse(babel_name(tag))


@dataclass(frozen=True)
class Language:
    """One offered language, with everything a page needs about it."""

    tag: str  # BCP 47, as the profile writes it and <html lang> says it: "pt-BR"
    prefix: str  # its URL prefix, "pt-br"; "" for the default language
    locale: Locale
    name: str  # its own name, as the switcher shows it: "Português"
    direction: str  # "ltr" or "rtl"
    offer: str  # "Ver esta página em português", in the language itself

    @property
    def is_default(self) -> bool:
        """True for the language of the unprefixed URLs."""
        return not self.prefix


class Languages:
    """The offered languages, in the profile's order; the first is the default."""

    def __init__(self, offered: list[Language]) -> None:
        self.all = offered
        self.default = offered[0]
        self.by_prefix = {language.prefix: language for language in offered[1:]}
        self.by_tag = {language.tag: language for language in offered}
        self.tags = [language.tag for language in offered]


def build_languages(app: Flask, tags: Iterable[str]) -> Languages:
    """Every offered language, its offer line read from its own catalogue (once, at start)."""
    offered = []
    with app.app_context():
        for index, tag in enumerate(tags):
            locale = parse_tag(tag)
            with force_locale(locale):
                # msgid: the sentence in English; each catalogue says it in its own language.
                offer = _("View this page in English")
            offered.append(
                Language(
                    tag=tag,
                    prefix="" if index == 0 else tag.lower(),
                    locale=locale,
                    # The switcher names each language once: "Português", not "(Brasil)".
                    name=own_name(tag, region=False),
                    direction=locale.text_direction,
                    offer=offer,
                )
            )
    return Languages(offered)


def languages() -> Languages:
    """The app's offered languages."""
    return current_app.extensions["languages"]


def page_language() -> Language:
    """The language of this request's page: from its path's first segment, else the default."""
    offered = languages()
    if not has_request_context():
        return offered.default
    # A path always starts with "/": its first segment is the second item.
    return offered.by_prefix.get(request.path.split("/", 2)[1], offered.default)


def locale_selector() -> Locale:
    """Flask-Babel's locale: the page's language (the delivery worker's default is English)."""
    return page_language().locale


def is_staff_path(path: str) -> bool:
    """Staff pages and the API stay in the default language, without a switcher."""
    return path.startswith(("/admin/", "/api/")) or path == "/admin"


def path_in(language: Language) -> str:
    """This request's path in another language: the same slugs under its prefix."""
    current = page_language()
    path = request.path
    if current.prefix:
        path = path[len(current.prefix) + 1 :] or "/"
    return path if language.is_default else f"/{language.prefix}{path}"


def offered_instead() -> Language | None:
    """The offered language the browser prefers, when this page is in another one."""
    offered = languages()
    best = preferred(request.headers.get("Accept-Language", ""), tuple(offered.tags))
    if best is None or best == page_language().tag:
        return None
    return offered.by_tag[best]


@lru_cache(maxsize=1024)
def preferred(header: str, tags: tuple[str, ...]) -> str | None:
    """The offered tag an Accept-Language header prefers, if any.

    Cached: browsers send a few distinct headers, and parsing one on every request would be most
    of what the language machinery costs a page.
    """
    accepted = parse_accept_header(header, LanguageAccept)
    best = accepted.best_match(tags)
    if best is not None:
        return best
    # Werkzeug matches pt to pt-BR but not pt-PT (or pt-CV) to it: a reader of any Portuguese is
    # better served by the Brazilian pages than by English ones.
    by_primary: dict[str, str] = {}
    for tag in tags:
        by_primary.setdefault(tag.split("-")[0].lower(), tag)
    return next(
        (
            by_primary[primary]
            for value, _quality in accepted
            if (primary := value.split("-")[0].lower()) in by_primary
        ),
        None,
    )


def missing_catalogues(app: Flask, offered: Languages) -> list[str]:
    """Offered languages (other than the source's English) that have no compiled catalogue."""
    folders = [
        Path(app.root_path) / folder
        for folder in str(app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations")).split(
            ";"
        )
    ]
    return [
        language.tag
        for language in offered.all
        if language.locale.language != SOURCE
        and not any(
            (folder / babel_name(language.tag) / "LC_MESSAGES" / "messages.mo").is_file()
            for folder in folders
        )
    ]


# --- The practice's own words in the page's language ------------------------------------------


def own_words(practice: Practice, text: str) -> tuple[str, str | None]:
    """The practice's text in the current language, and the lang it must be marked with when it
    stays in the profile's own language on a page in another (None when no mark is needed)."""
    # The locale, not the page: an acknowledgement email is rendered in the patient's language.
    locale = get_locale()
    tag = str(locale).replace("_", "-") if locale is not None else practice.languages[0]
    if tag == practice.languages[0]:
        return text, None
    translated = practice.translations.get(tag, {}).get(text)
    if translated:
        return translated, None
    return text, practice.languages[0]


def own_markup(practice: Practice, text: str) -> Markup:
    """The practice's text for a page: translated, or in a span marked with its language."""
    shown, lang = own_words(practice, text)
    if lang is None:
        return escape(shown)
    return Markup('<span lang="{}">{}</span>').format(lang, shown)


def full_date(value: date) -> str:
    """A date with its weekday: Friday, December 25, 2099; viernes, 25 de diciembre de 2099."""
    return format_date(value, "full", locale=get_locale() or SOURCE)


def clock_text(moment: time) -> str:
    """A time of day as the current language writes it: "7 am" in English, "7:00" in Spanish."""
    locale = get_locale()
    if locale is None or locale.language == SOURCE:
        return us_clock(moment)
    return format_time(moment, "short", locale=locale)


def opening_hours(practice: Practice) -> list[str | Markup]:
    """The opening hours in words, in the page's language: "Lunes a viernes, 7:00 a 16:00"."""
    hours = practice.hours
    if not isinstance(hours, OpeningHours):
        return [own_markup(practice, hours)] if hours else []
    language = page_language()
    if language.is_default:
        return hours.in_words()
    locale = language.locale
    words = {
        "days": _("{first} to {last}"),
        "two_days": _("{first} and {last}"),
        "period": _("{opens} to {closes}"),
        "periods": _(" and "),
        "line": _("{days}, {times}"),
    }
    names = [locale.days["format"]["wide"][index] for index in range(7)]  # Monday is 0
    return list(hours.in_words(names, clock_text, words))


# --- Wiring -------------------------------------------------------------------------------------


def register(app: Flask) -> None:
    """Offer the profile's languages: prefixed routes, the page's language, its headers."""
    practice: Practice = app.extensions["practice"]
    offered = build_languages(app, practice.languages)
    missing = missing_catalogues(app, offered)
    if missing:
        raise RuntimeError(
            f"the practice profile offers {missing} but the portal has no catalogue for "
            f"{'it' if len(missing) == 1 else 'them'}; see docs/translating.md"
        )
    app.extensions["languages"] = offered
    add_prefixed_routes(app, offered)

    @app.url_value_preprocessor
    def drop_language(endpoint: str | None, values: dict[str, Any] | None) -> None:
        # The prefix chose the language (page_language reads the path); views never see it.
        if values:
            values.pop("lang", None)

    @app.url_defaults
    def keep_language(endpoint: str, values: dict[str, Any]) -> None:
        # Links, form actions and redirects between patient pages stay in the page's language;
        # url_for(..., lang=None) asks for the default language's URL.
        if "lang" in values or not endpoint.startswith(PUBLIC + "."):
            return
        language = page_language()
        if language.prefix:
            values["lang"] = language.prefix

    @app.context_processor
    def inject_language() -> dict[str, Any]:
        language = page_language()
        public = has_request_context() and not is_staff_path(request.path)
        return {
            "language": language,
            "languages": offered.all if public and len(offered.all) > 1 else [],
            "language_offer": offered_instead() if public and len(offered.all) > 1 else None,
        }

    @app.after_request
    def content_language(response: Response) -> Response:
        if response.content_type.startswith("text/html"):
            response.headers["Content-Language"] = page_language().tag
            if len(offered.all) > 1 and not is_staff_path(request.path):
                # The line that offers another language depends on Accept-Language.
                response.vary.add("Accept-Language")
        return response

    app.add_template_global(path_in)
    app.add_template_global(lambda: opening_hours(practice), "opening_hours")
    app.add_template_filter(lambda text: own_markup(practice, text), "own")
    app.add_template_filter(lambda text: own_words(practice, text)[0], "own_text")
    app.add_template_filter(full_date, "full_date")


def add_prefixed_routes(app: Flask, offered: Languages) -> None:
    """Give every route of the public blueprint a copy under each non-default language's prefix.

    The copy has the same endpoint, so ``url_for("public.contact_us", lang="es")`` builds
    ``/es/contact-us`` (Werkzeug prefers the rule that uses more of the values) and, without
    ``lang``, the unprefixed URL; a route added to the blueprint later gets its copies too.
    """
    prefixes = [language.prefix for language in offered.all[1:]]
    if not prefixes:
        return
    converter = "any(" + ", ".join(f'"{prefix}"' for prefix in prefixes) + ")"
    for rule in list(app.url_map.iter_rules()):
        if rule.endpoint.partition(".")[0] != PUBLIC:
            continue
        app.add_url_rule(
            f"/<{converter}:lang>{rule.rule}",
            endpoint=rule.endpoint,
            methods=sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}),
            defaults=rule.defaults,
        )
