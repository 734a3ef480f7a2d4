"""The practice profile: who the practice is, shown on every page and used to route email.

Defaults describe Boston Out-Patient Surgical Suites (the first practice). A practice changes
them in ``instance/practice.toml`` (read by ``loading.py``); any key left out keeps its default.
Nothing about the practice is written into a template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from .. import languages as lang
from . import presentation
from .formatting import format_phone
from .hours import OpeningHours
from .presentation import Tagline
from .words import DEFAULT_TRANSLATIONS


@dataclass(frozen=True)
class Link:
    """A labelled link, to a page of the portal or of the practice's own website."""

    label: str
    url: str


@dataclass(frozen=True)
class Notice:
    """A legal notice from the footer; shown by the portal when the practice has no page for it."""

    slug: str
    title: str
    url: str | None = None
    text: str | None = None


def _default_notices() -> list[Notice]:
    return [
        Notice("nondiscrimination", "Notice of Nondiscrimination"),
        Notice("privacy-practices", "Notice of Privacy Practices"),
        Notice("terms-of-service", "Terms of Service"),
        Notice("internet-privacy", "Internet Privacy Policy"),
        Notice("billing-disclosure", "Billing Disclosure"),
    ]


@dataclass(frozen=True)
class Practice:
    """Everything the portal says about the practice."""

    name: str = "Boston Out-Patient Surgical Suites"
    phone: str = "+17812095645"
    street: str = "840 Winter Street"
    city: str = "Waltham"
    state: str = "MA"
    postal_code: str = "02451"
    timezone: str = "America/New_York"
    # Free text ("Monday to Friday, 7 am to 4 pm"), or an [hours] table read into OpeningHours.
    hours: str | OpeningHours | None = None
    website_url: str | None = None
    directions_url: str = (
        "https://www.google.com/maps/search/?api=1&query=840+Winter+Street+Waltham+MA+02451"
    )
    # None: the current year in the practice's time zone.
    copyright_year: int | None = None
    # A file in the instance folder (SVG or PNG), with its alternative text.
    logo: str | None = None
    logo_alt: str | None = None
    # "#0b4f8a": buttons, the header and headings; it must reach 4.5:1 against white.
    accent_color: str | None = None
    specialties: list[str] = field(
        default_factory=lambda: [
            "Total hip replacement",
            "Total knee replacement",
            "Total shoulder replacement",
            "Other or not sure",
        ]
    )
    physicians: list[str] = field(default_factory=list)
    contact_topics: list[str] = field(
        default_factory=lambda: ["General question", "Billing", "Medical records", "Feedback"]
    )
    # Extra navigation to the practice's existing website (Patient Forms, Insurance...).
    nav_links: list[Link] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=_default_notices)
    # Specialty or contact topic -> front-desk addresses that receive it instead of the default.
    routing: dict[str, list[str]] = field(default_factory=dict)
    # The languages of the patients' pages, as BCP 47 tags; the first (English, in which the
    # profile is written) is served at the unprefixed URLs, each other one under /<tag>/.
    languages: list[str] = field(default_factory=lambda: ["en", "es", "pt-BR"])
    # The practice's own words per language: tag -> English text -> translation (name,
    # specialties, topics, notice titles and texts, link labels, free-text hours). The default
    # covers the default words; a profile's [translations.<tag>] is laid over it.
    translations: dict[str, dict[str, str]] = field(
        default_factory=lambda: {tag: dict(words) for tag, words in DEFAULT_TRANSLATIONS.items()}
    )
    # BCP 47 tags. Other languages the patients often speak (with ``languages``, the options of
    # the preferred-language question), and those of the language-assistance notice (languages.py
    # says where the defaults come from).
    other_languages: list[str] = field(default_factory=lambda: list(lang.OTHER_LANGUAGES))
    assistance_languages: list[str] = field(default_factory=lambda: list(lang.ASSISTANCE_LANGUAGES))
    # Language tag -> the tagline the practice's translator approved, for the notice page and
    # the end of the patient's emails; "{phone}" stands for the phone number.
    assistance_taglines: dict[str, str] = field(default_factory=dict)
    assistance_short_taglines: dict[str, str] = field(default_factory=dict)

    @property
    def year(self) -> int:
        """The year of the copyright line: the profile's, else the current year."""
        return self.copyright_year or datetime.now(self.zone).year

    def own_words(self) -> set[str]:
        """Every text of the profile that [translations.<tag>] may translate."""
        words = {self.name, *self.specialties, *self.contact_topics}
        words |= {link.label for link in self.nav_links}
        words |= {n.title for n in self.notices} | {n.text for n in self.notices if n.text}
        if isinstance(self.hours, str):
            words.add(self.hours)
        return words

    @property
    def opening_hours(self) -> OpeningHours | None:
        """The structured opening hours, when the profile has them (not free text)."""
        return self.hours if isinstance(self.hours, OpeningHours) else None

    @property
    def upcoming_holidays(self) -> list[date]:
        """The next holidays on which the practice is closed, from today in its time zone."""
        hours = self.opening_hours
        return hours.upcoming_holidays(datetime.now(self.zone).date()) if hours else []

    @property
    def business_day_seconds(self) -> float:
        """One business day: the usual open day; 24 hours when business time is elapsed time."""
        usual = self.opening_hours.usual_day_seconds() if self.opening_hours else None
        return usual or 24 * 3600.0

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Open time between two instants; without structured hours, the time that passed."""
        if self.opening_hours:
            return self.opening_hours.business_seconds(start, end, self.zone)
        return max((end - start).total_seconds(), 0.0)

    def business_start(self, end: datetime, seconds: float) -> datetime | None:
        """The instant before which a request has waited more than ``seconds`` of business time
        at ``end`` (see OpeningHours.business_start; elapsed time without structured hours)."""
        if self.opening_hours:
            return self.opening_hours.business_start(end, seconds, self.zone)
        return end - timedelta(seconds=seconds)

    @property
    def zone(self) -> ZoneInfo:
        """The practice's time zone, in which every time is shown."""
        return ZoneInfo(self.timezone)

    @cached_property
    def phone_display(self) -> str:
        """The phone number as people write it, e.g. (781) 209-5645.

        Kept once formatted: every page and email shows it, the acknowledgement once per
        language tagline, and phonenumbers parses it anew each time (a sixth of a drained email).
        """
        return format_phone(self.phone)

    @property
    def phone_href(self) -> str:
        """The phone number as a tel: link."""
        return f"tel:{self.phone}"

    @property
    def address_lines(self) -> list[str]:
        """The postal address, one line per item."""
        return [self.name, f"{self.street},", f"{self.city}, {self.state} {self.postal_code}"]

    def schema_org(self, url: str) -> dict[str, Any]:
        """The home page's JSON-LD: the practice as a schema.org MedicalClinic."""
        return presentation.schema_org(self, url)

    @property
    def preferred_languages(self) -> list[str]:
        """The preferred-language question's options: offered, then other languages, in order."""
        return list(dict.fromkeys([*self.languages, *self.other_languages]))

    @property
    def taglines(self) -> list[Tagline]:
        """The notice's language-assistance taglines, in its languages, in order."""
        return presentation.taglines(self)

    def notice(self, slug: str) -> Notice | None:
        """The legal notice with this slug, if the practice has one."""
        return next((n for n in self.notices if n.slug == slug), None)
