"""The practice profile: who the practice is, shown on every page and used to route email.

Defaults describe Boston Out-Patient Surgical Suites (the first practice). A practice changes
them in ``instance/practice.toml``; any key left out keeps its default. Nothing about the practice
is written into a template.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email


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


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class OpeningHours:
    """When the practice is open: periods per weekday (none: closed) and the holidays it closes."""

    days: dict[str, list[tuple[time, time]]]
    holidays: list[date] = field(default_factory=list)

    def in_words(self) -> list[str]:
        """One line per run of days with the same hours: "Monday to Friday, 7 am to 4 pm"."""
        lines = []
        runs: list[tuple[int, int, list[tuple[time, time]]]] = []
        for index, day in enumerate(DAYS):
            periods = self.days.get(day, [])
            if runs and runs[-1][2] == periods and runs[-1][1] == index - 1:
                runs[-1] = (runs[-1][0], index, periods)
            else:
                runs.append((index, index, periods))
        for first, last, periods in runs:
            if not periods:
                continue  # closed: left out, as a practice's own website does
            days = DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]} to {DAY_NAMES[last]}"
            if last == first + 1:
                days = f"{DAY_NAMES[first]} and {DAY_NAMES[last]}"
            times = " and ".join(f"{_clock(a)} to {_clock(b)}" for a, b in periods)
            lines.append(f"{days}, {times}")
        return lines

    @property
    def closed_some_days(self) -> bool:
        """Whether some day of the week has no opening hours."""
        return any(not self.days.get(day) for day in DAYS)

    def upcoming_holidays(self, today: date, limit: int = 3) -> list[date]:
        """The next few holidays, from today on."""
        return sorted(day for day in self.holidays if day >= today)[:limit]


def _clock(moment: time) -> str:
    """7:00 -> "7 am", 16:30 -> "4:30 pm", 12:00 -> "12 pm" (as U.S. practices write it)."""
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


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

    @property
    def year(self) -> int:
        """The year of the copyright line: the profile's, else the current year."""
        return self.copyright_year or datetime.now(self.zone).year

    @property
    def hours_in_words(self) -> list[str]:
        """The opening hours as lines of text (free text is one line); empty when unknown."""
        if isinstance(self.hours, OpeningHours):
            return self.hours.in_words()
        return [self.hours] if self.hours else []

    @property
    def upcoming_holidays(self) -> list[date]:
        """The next holidays on which the practice is closed, from today in its time zone."""
        if not isinstance(self.hours, OpeningHours):
            return []
        return self.hours.upcoming_holidays(datetime.now(self.zone).date())

    @property
    def opening_hours(self) -> OpeningHours | None:
        """The structured opening hours, when the profile has them."""
        return self.hours if isinstance(self.hours, OpeningHours) else None

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

    def schema_org(self, url: str) -> dict[str, Any]:
        """The practice as schema.org MedicalClinic, for the home page's JSON-LD block."""
        clinic: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "MedicalClinic",
            "name": self.name,
            "url": url,
            "telephone": self.phone,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": self.street,
                "addressLocality": self.city,
                "addressRegion": self.state,
                "postalCode": self.postal_code,
                "addressCountry": "US" if self.phone.startswith("+1") else None,
            },
        }
        if clinic["address"]["addressCountry"] is None:
            del clinic["address"]["addressCountry"]
        if self.website_url:
            clinic["sameAs"] = [self.website_url]
        if isinstance(self.hours, OpeningHours):
            clinic["openingHoursSpecification"] = [
                {
                    "@type": "OpeningHoursSpecification",
                    "dayOfWeek": f"https://schema.org/{DAY_NAMES[index]}",
                    "opens": opens.strftime("%H:%M"),
                    "closes": closes.strftime("%H:%M"),
                }
                for index, day in enumerate(DAYS)
                for opens, closes in self.hours.days.get(day, [])
            ]
        elif self.hours:
            clinic["openingHours"] = self.hours  # free text: schema.org takes it as written
        return clinic

    def notice(self, slug: str) -> Notice | None:
        """The legal notice with this slug, if the practice has one."""
        return next((n for n in self.notices if n.slug == slug), None)


def format_phone(e164: str) -> str:
    """Show an E.164 number in the national format of its own country."""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class ProfileError(ValueError):
    """The practice profile cannot be used; each line of the message is one problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{path}: {count} in the practice profile:\n{lines}")


def load_practice(instance_path: str) -> Practice:
    """Read instance/practice.toml over the defaults; without the file, the defaults."""
    path = Path(instance_path) / "practice.toml"
    if not path.exists():
        return Practice()
    return check_profile(path, Path(instance_path))


def check_profile(path: Path, instance: Path) -> Practice:
    """Validate a practice.toml and build the profile; raise ProfileError listing every problem."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(path, [f"not valid TOML: {error}"]) from None
    problems: list[str] = []
    values = _ProfileReader(raw, problems, instance).read()
    if problems:
        raise ProfileError(path, problems)
    return Practice(**values)


# What each simple setting must be; the others (lists of tables, [hours], [routing]) are read
# by their own methods below.
_TEXT = (
    "name street city state postal_code timezone website_url directions_url logo logo_alt "
    "accent_color"
).split()
_TEXT_LISTS = ("specialties", "physicians", "contact_topics")
_URLS = ("website_url", "directions_url")
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_PERIOD = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
LOGO_MAX_BYTES = 512 * 1024


class _ProfileReader:
    """Checks one parsed practice.toml, collecting every problem rather than the first."""

    def __init__(self, raw: dict[str, Any], problems: list[str], instance: Path) -> None:
        self.raw = raw
        self.problems = problems
        self.instance = instance

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def read(self) -> dict[str, Any]:
        known = {f.name for f in fields(Practice)}
        unknown = sorted(set(self.raw) - known)
        if unknown:
            self.problem(f"unknown practice settings {unknown}; the known ones are {sorted(known)}")
        values: dict[str, Any] = {}
        for key, value in self.raw.items():
            if key in _TEXT:
                if self.text(key, value):
                    values[key] = value.strip()
            elif key in _TEXT_LISTS:
                if self.text_list(key, value, allow_empty=key == "physicians"):
                    values[key] = [item.strip() for item in value]
            elif key == "phone":
                values[key] = self.phone(value)
            elif key == "copyright_year":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1900:
                    self.problem(f"copyright_year must be a year such as 2024, not {value!r}")
                else:
                    values[key] = value
            elif key == "hours":
                values[key] = self.hours(value)
            elif key == "nav_links":
                values[key] = self.tables(key, value, Link, required=("label", "url"))
            elif key == "notices":
                values[key] = self.tables(key, value, Notice, required=("slug", "title"))
            elif key == "routing":
                values[key] = self.routing(value)
        for key in _URLS:
            if key in values:
                self.url(key, values[key])
        if "timezone" in values:
            try:
                ZoneInfo(values["timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                self.problem(
                    f"timezone {values['timezone']!r} is not a time zone name such as "
                    '"America/New_York"'
                )
        if "accent_color" in values:
            self.accent(values["accent_color"])
        self.logo(values)
        return values

    def text(self, key: str, value: object) -> bool:
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{key} must be a text in quotes, not {_shown(value)}")
            return False
        return True

    def text_list(self, key: str, value: object, allow_empty: bool = False) -> bool:
        example = f'{key} = ["First", "Second"]'
        if not isinstance(value, list):
            self.problem(f"{key} must be a list of texts, e.g. {example}, not {_shown(value)}")
            return False
        if not value and not allow_empty:
            self.problem(f"{key} must list at least one choice, e.g. {example}")
            return False
        wrong = [item for item in value if not isinstance(item, str) or not item.strip()]
        if wrong:
            self.problem(f"{key} must hold only texts in quotes; {_shown(wrong[0])} is not one")
            return False
        if len(set(value)) != len(value):
            self.problem(f"{key} lists the same choice twice")
            return False
        return True

    def phone(self, value: object) -> str | None:
        message = f'phone must be in E.164 form, e.g. "+17812095645", not {_shown(value)}'
        if not isinstance(value, str) or not re.fullmatch(r"\+[1-9]\d{6,14}", value):
            self.problem(message)
            return None
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(value, None))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            self.problem(f"phone {value} is not a valid telephone number")
            return None
        return value

    def url(self, key: str, value: str) -> None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problem(f"{key} must be a full web address (https://…), not {value!r}")

    def accent(self, value: str) -> None:
        if not _HEX_COLOUR.fullmatch(value):
            self.problem(f'accent_color must be a colour such as "#0b4f8a", not {value!r}')
            return
        ratio = contrast_ratio(value, "#ffffff")
        if ratio < 4.5:
            self.problem(
                f"accent_color {value} is too light: its contrast with white is {ratio:.2f}:1, "
                "below the 4.5:1 that both white text on it (buttons, the top bar) and text in "
                "it on a white background (links, headings) need; choose a darker colour"
            )

    def logo(self, values: dict[str, Any]) -> None:
        logo, alt = values.get("logo"), values.get("logo_alt")
        if "logo" in self.raw and logo is None:
            return  # already reported as not a text
        if logo is None:
            if alt is not None:
                self.problem("logo_alt is set but there is no logo")
            return
        if alt is None and "logo_alt" not in self.raw:
            self.problem(
                'logo needs logo_alt, the text a screen reader says for it, e.g. logo_alt = "'
                f'{values.get("name", Practice.name)}"'
            )
        name = Path(logo)
        if name.name != logo or logo.startswith("."):
            self.problem(f"logo must be a file name in the instance folder, not a path: {logo!r}")
            return
        if name.suffix.lower() not in LOGO_TYPES:
            self.problem(f"logo must be an .svg or .png file, not {logo!r}")
            return
        file = self.instance / logo
        if not file.is_file():
            self.problem(f"logo {logo!r} is not in the instance folder ({self.instance})")
            return
        data = file.read_bytes()
        if len(data) > LOGO_MAX_BYTES:
            self.problem(f"logo {logo!r} is {len(data) // 1024} KB; keep it under 512 KB")
        elif name.suffix.lower() == ".png" and not data.startswith(b"\x89PNG\r\n\x1a\n"):
            self.problem(f"logo {logo!r} is not a PNG image")
        elif name.suffix.lower() == ".svg" and b"<svg" not in data[:4096]:
            self.problem(f"logo {logo!r} is not an SVG image")

    def hours(self, value: object) -> str | OpeningHours | None:
        if isinstance(value, str) and value.strip():
            return value.strip()
        if not isinstance(value, dict):
            self.problem(
                'hours must be a text ("Monday to Friday, 7 am to 4 pm") or an [hours] table '
                f'(mon = ["07:00-16:00"], …), not {_shown(value)}'
            )
            return None
        unknown = sorted(set(value) - set(DAYS) - {"holidays"})
        if unknown:
            self.problem(f"[hours] has unknown keys {unknown}; use mon … sun and holidays")
        days: dict[str, list[tuple[time, time]]] = {}
        for day in DAYS:
            periods = value.get(day, [])
            if not isinstance(periods, list):
                periods = [periods]  # reported below as a wrong period
            days[day] = []
            for period in periods:
                parsed = self.period(day, period)
                if parsed:
                    days[day].append(parsed)
            days[day].sort()
        holidays = []
        listed = value.get("holidays", [])
        if not isinstance(listed, list):
            self.problem(f"[hours] holidays must be a list of dates, not {_shown(listed)}")
            listed = []
        for item in listed:
            try:
                holidays.append(item if isinstance(item, date) else date.fromisoformat(item))
            except (TypeError, ValueError):
                self.problem(f"[hours] holidays: {_shown(item)} is not a date such as 2026-12-25")
        return OpeningHours(days=days, holidays=sorted(holidays))

    def period(self, day: str, period: object) -> tuple[time, time] | None:
        match = _PERIOD.fullmatch(period) if isinstance(period, str) else None
        try:
            start = time(int(match[1]), int(match[2])) if match else None
            end = time(int(match[3]), int(match[4])) if match else None
        except ValueError:
            start = end = None
        if start is None or end is None or start >= end:
            self.problem(
                f'[hours] {day}: {_shown(period)} is not a period such as "07:00-16:00" '
                "(24-hour clock, opening before closing)"
            )
            return None
        return start, end

    def tables(self, key: str, value: object, kind: type, required: tuple[str, ...]) -> list:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(f"{key} must be written as [[{key}]] tables")
            return []
        known = {f.name for f in fields(kind)}
        made = []
        for number, item in enumerate(value, 1):
            where = f"[[{key}]] number {number}"
            unknown = sorted(set(item) - known)
            if unknown:
                self.problem(
                    f"{where} has unknown keys {unknown}; the known ones are {sorted(known)}"
                )
            missing = [name for name in required if name not in item]
            if missing:
                self.problem(f"{where} needs {', '.join(missing)}")
            wrong = [k for k in known & set(item) if not isinstance(item[k], str)]
            if wrong:
                self.problem(f"{where}: {', '.join(sorted(wrong))} must be text in quotes")
            if unknown or missing or wrong:
                continue
            if item.get("url"):
                self.url(f"{where} url", item["url"])
            made.append(kind(**item))
        return made

    def routing(self, value: object) -> dict[str, list[str]]:
        if not isinstance(value, dict):
            self.problem('routing must be a [routing] table: "Billing" = ["billing@example.org"]')
            return {}
        routes = {}
        for topic, addresses in value.items():
            if not isinstance(addresses, list) or not addresses:
                self.problem(f"[routing] {topic!r} must be a list of email addresses")
                continue
            for address in addresses:
                try:
                    validate_email(str(address), check_deliverability=False)
                except EmailNotValidError:
                    self.problem(f"[routing] {topic!r}: {_shown(address)} is not an email address")
            routes[topic] = addresses
        return routes


def _shown(value: object) -> str:
    """A value as the profile wrote it, for a message."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio between two #rrggbb colours (1 to 21)."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def darker(colour: str, amount: float = 0.4) -> str:
    """The colour mixed with black: the accent's darker shade for the top bar and hovers."""
    channels = [round(int(colour[i : i + 2], 16) * (1 - amount)) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in channels)


def file_digest(data: bytes) -> str:
    """A short content hash for a URL that may be cached for ever."""
    return hashlib.sha256(data).hexdigest()[:12]
