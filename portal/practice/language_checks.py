"""Checks of a practice.toml's language settings: the offered languages, the language lists,
the language-assistance taglines and the translations of the profile's own words."""

from __future__ import annotations

from typing import Any

from babel import Locale, UnknownLocaleError

from .. import languages as lang
from .checks import ValueChecks
from .formatting import shown
from .profile import Practice

TAGLINE_TABLES = ("assistance_taglines", "assistance_short_taglines")


class LanguageChecks(ValueChecks):
    """The language settings' checks, each reporting a problem in the profile's words."""

    def languages(self, value: object) -> list[str] | None:
        """The offered languages: BCP 47 tags Babel knows, English (the profile's) first."""
        example = 'languages = ["en", "es", "pt-BR"]'
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.problem(f"languages must be a list of language tags, e.g. {example}")
            return None
        tags = [v.strip() for v in value]
        if tags[0] != "en":
            self.problem(f'languages must start with "en", the profile\'s language: {example}')
        wrong = []
        for tag in tags:
            try:
                Locale.parse(tag.replace("-", "_"))
            except (UnknownLocaleError, ValueError):
                wrong.append(tag)
        if wrong:
            self.problem(f'languages: {wrong} are not language tags such as "es" or "pt-BR"')
        if len({t.lower() for t in tags}) != len(tags):
            self.problem("languages lists the same language twice")
        return None if wrong else tags

    def language_list(self, key: str, value: object, allow_empty: bool) -> bool:
        if not self.text_list(key, value, allow_empty=allow_empty):
            return False
        assert isinstance(value, list)  # text_list() said so
        unknown = [tag for tag in value if not lang.is_known(tag.strip())]
        if unknown:
            self.problem(
                f'{key}: {shown(unknown[0])} is not a language tag such as "es" or "pt-BR"'
            )
            return False
        return True

    def taglines(self, key: str, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            self.problem(f'{key} must be a [{key}] table: es = "ATENCIÓN: … {{phone}} …"')
            return {}
        lines = {}
        for tag, text in value.items():
            if not isinstance(text, str) or not text.strip():
                self.problem(f"[{key}] {tag}: the tagline must be a text in quotes")
            else:
                lines[tag] = text.strip()
        return lines

    def tagline_languages(self, values: dict[str, Any]) -> None:
        """Every tagline is for a language of the notice, and every language has a tagline."""
        languages = values.get("assistance_languages", Practice().assistance_languages)
        given = values.get("assistance_taglines", {})
        for key in TAGLINE_TABLES:
            for tag in values.get(key, {}):
                if tag not in languages:
                    self.problem(f"[{key}] {tag}: {tag} is not one of assistance_languages")
        missing = [tag for tag in languages if tag not in given and tag not in lang.TAGLINES]
        if missing:
            self.problem(
                f"assistance_languages: the portal has no tagline in {', '.join(missing)}; "
                "give the one your translator approved in [assistance_taglines]"
            )

    def translations(self, value: object, values: dict[str, Any]) -> dict[str, dict[str, str]]:
        """[translations.<tag>]: the profile's English text -> translation, over the default."""
        merged = Practice().translations
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            self.problem('translations must be tables, e.g. [translations.es] "Billing" = "…"')
            return merged
        tags = values.get("languages") or Practice().languages
        words = Practice(**{k: v for k, v in values.items() if v is not None}).own_words()
        for tag, table in value.items():
            if tag not in tags[1:]:
                self.problem(
                    f"[translations.{tag}]: {tag!r} is not one of the languages {tags[1:]}"
                )
                continue
            for english, translated in table.items():
                if not isinstance(translated, str) or not translated.strip():
                    self.problem(f"[translations.{tag}] {english!r} must be a text in quotes")
                elif english not in words:
                    self.problem(
                        f"[translations.{tag}] {english!r} is none of the profile's own words "
                        "(its name, specialties, topics, notice titles and texts, link labels)"
                    )
                else:
                    merged.setdefault(tag, {})[english] = translated.strip()
        return merged
