"""Checks of single values of a practice.toml, each reporting a problem in the profile's words."""

from __future__ import annotations

import re
from datetime import date, time
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .formatting import contrast_ratio, shown
from .hours import DAYS, OpeningHours

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_PERIOD = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")


class ValueChecks:
    """Checks one value at a time, collecting every problem rather than stopping at the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def text(self, key: str, value: object) -> bool:
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{key} must be a text in quotes, not {shown(value)}")
            return False
        return True

    def text_list(self, key: str, value: object, allow_empty: bool = False) -> bool:
        example = f'{key} = ["First", "Second"]'
        if not isinstance(value, list):
            self.problem(f"{key} must be a list of texts, e.g. {example}, not {shown(value)}")
            return False
        if not value and not allow_empty:
            self.problem(f"{key} must list at least one choice, e.g. {example}")
            return False
        wrong = [item for item in value if not isinstance(item, str) or not item.strip()]
        if wrong:
            self.problem(f"{key} must hold only texts in quotes; {shown(wrong[0])} is not one")
            return False
        if len(set(value)) != len(value):
            self.problem(f"{key} lists the same choice twice")
            return False
        return True

    def phone(self, value: object) -> str | None:
        message = f'phone must be in E.164 form, e.g. "+17812095645", not {shown(value)}'
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

    def hours(self, value: object) -> str | OpeningHours | None:
        if isinstance(value, str) and value.strip():
            return value.strip()
        if not isinstance(value, dict):
            self.problem(
                'hours must be a text ("Monday to Friday, 7 am to 4 pm") or an [hours] table '
                f'(mon = ["07:00-16:00"], …), not {shown(value)}'
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
            self.problem(f"[hours] holidays must be a list of dates, not {shown(listed)}")
            listed = []
        for item in listed:
            try:
                holidays.append(item if isinstance(item, date) else date.fromisoformat(item))
            except (TypeError, ValueError):
                self.problem(f"[hours] holidays: {shown(item)} is not a date such as 2026-12-25")
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
                f'[hours] {day}: {shown(period)} is not a period such as "07:00-16:00" '
                "(24-hour clock, opening before closing)"
            )
            return None
        return start, end

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
                    self.problem(f"[routing] {topic!r}: {shown(address)} is not an email address")
            routes[topic] = addresses
        return routes
