"""Reading instance/practice.toml: every problem listed at once, else the profile it describes."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .language_checks import TAGLINE_TABLES, LanguageChecks
from .profile import Link, Notice, Practice


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
# by their own methods below, in checks.py and in language_checks.py.
_TEXT = (
    "name street city state postal_code timezone website_url directions_url logo logo_alt "
    "accent_color"
).split()
_TEXT_LISTS = ("specialties", "physicians", "contact_topics")
# Lists of BCP 47 language tags; only the offered languages may not be empty.
_LANGUAGE_LISTS = ("other_languages", "assistance_languages")
_URLS = ("website_url", "directions_url")
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
LOGO_MAX_BYTES = 512 * 1024


class _ProfileReader(LanguageChecks):
    """Checks one parsed practice.toml, collecting every problem rather than the first."""

    def __init__(self, raw: dict[str, Any], problems: list[str], instance: Path) -> None:
        super().__init__(problems)
        self.raw = raw
        self.instance = instance

    def _with_holidays_in_hours(self) -> dict[str, Any]:
        """The settings with a top-level ``holidays`` list moved into the [hours] table."""
        raw = dict(self.raw)
        if "holidays" not in raw:
            return raw
        holidays = raw.pop("holidays")
        hours = raw.get("hours")
        if not isinstance(hours, dict):
            self.problem("holidays need opening hours as an [hours] table (mon = [...], ...)")
        elif "holidays" in hours:
            self.problem("holidays are listed twice: at the top level and in [hours]")
        else:
            raw["hours"] = {**hours, "holidays": holidays}
        return raw

    def read(self) -> dict[str, Any]:
        known = {f.name for f in fields(Practice)} | {"holidays"}
        unknown = sorted(set(self.raw) - known)
        if unknown:
            self.problem(f"unknown practice settings {unknown}; the known ones are {sorted(known)}")
        values: dict[str, Any] = {}
        for key, value in self._with_holidays_in_hours().items():
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
            elif key == "languages":
                values[key] = self.languages(value)
            elif key in _LANGUAGE_LISTS:
                if self.language_list(key, value, allow_empty=True):
                    values[key] = [item.strip() for item in value]
            elif key in TAGLINE_TABLES:
                values[key] = self.taglines(key, value)
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
        if "translations" in self.raw:
            values["translations"] = self.translations(self.raw["translations"], values)
        self.tagline_languages(values)
        return values

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
