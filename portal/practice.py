"""The practice profile: who the practice is, shown on every page and used to route email.

Defaults describe Boston Out-Patient Surgical Suites (the first practice). A practice changes
them in ``instance/practice.toml``; any key left out keeps its default. Nothing about the practice
is written into a template.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers


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
    hours: str | None = None
    website_url: str | None = None
    directions_url: str = (
        "https://www.google.com/maps/search/?api=1&query=840+Winter+Street+Waltham+MA+02451"
    )
    copyright_year: int = 2023
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

    @property
    def zone(self) -> ZoneInfo:
        """The practice's time zone, in which every time is shown."""
        return ZoneInfo(self.timezone)

    @property
    def phone_display(self) -> str:
        """The phone number as people write it, e.g. (781) 209-5645."""
        return format_phone(self.phone)

    @property
    def phone_href(self) -> str:
        """The phone number as a tel: link."""
        return f"tel:{self.phone}"

    @property
    def address_lines(self) -> list[str]:
        """The postal address, one line per item."""
        return [self.name, f"{self.street},", f"{self.city}, {self.state} {self.postal_code}"]

    def notice(self, slug: str) -> Notice | None:
        """The legal notice with this slug, if the practice has one."""
        return next((n for n in self.notices if n.slug == slug), None)


def format_phone(e164: str) -> str:
    """Show an E.164 number in the national format of its own country."""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def load_practice(instance_path: str) -> Practice:
    """Read instance/practice.toml over the defaults; without the file, the defaults."""
    path = Path(instance_path) / "practice.toml"
    if not path.exists():
        return Practice()
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    known = {f.name for f in fields(Practice)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown practice settings {sorted(unknown)}")
    if "nav_links" in raw:
        raw["nav_links"] = [Link(**item) for item in raw["nav_links"]]
    if "notices" in raw:
        raw["notices"] = [Notice(**item) for item in raw["notices"]]
    practice = Practice(**raw)
    practice.zone  # noqa: B018 -- fail at start-up, not on the first page, on a bad zone name
    return practice
