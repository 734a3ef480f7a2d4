"""What the profile shows beyond its own fields: the language-assistance taglines and the
practice as schema.org JSON-LD (Practice's ``taglines`` and ``schema_org`` return these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import languages as lang
from .hours import DAY_NAMES, DAYS, OpeningHours

if TYPE_CHECKING:  # profile.py imports this module
    from .profile import Practice

# Where a tagline says the practice's phone number.
PHONE_SLOT = "{phone}"


@dataclass(frozen=True)
class Tagline:
    """The language-assistance notice in one language: "{phone}" stands for the number."""

    tag: str
    name: str  # the language's own name
    rtl: bool
    text: str
    short: str  # for the end of an email

    @staticmethod
    def split(text: str) -> list[str]:
        """The text around each "{phone}", which a page or an email shows as the number."""
        return text.split(PHONE_SLOT)


def taglines(practice: Practice) -> list[Tagline]:
    """The language-assistance tagline in each of the notice's languages, the profile's
    own text where it has one."""
    return [
        Tagline(
            tag,
            lang.own_name(tag),
            lang.is_rtl(tag),
            practice.assistance_taglines.get(tag) or lang.TAGLINES.get(tag, ""),
            practice.assistance_short_taglines.get(tag)
            or practice.assistance_taglines.get(tag)
            or lang.SHORT_TAGLINES.get(tag, ""),
        )
        for tag in practice.assistance_languages
    ]


def schema_org(practice: Practice, url: str) -> dict[str, Any]:
    """The practice as schema.org MedicalClinic, for the home page's JSON-LD block."""
    clinic: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MedicalClinic",
        "name": practice.name,
        "url": url,
        "telephone": practice.phone,
        "address": {
            "@type": "PostalAddress",
            "streetAddress": practice.street,
            "addressLocality": practice.city,
            "addressRegion": practice.state,
            "postalCode": practice.postal_code,
            "addressCountry": "US" if practice.phone.startswith("+1") else None,
        },
    }
    if clinic["address"]["addressCountry"] is None:
        del clinic["address"]["addressCountry"]
    if practice.website_url:
        clinic["sameAs"] = [practice.website_url]
    if isinstance(practice.hours, OpeningHours):
        clinic["openingHoursSpecification"] = [
            {
                "@type": "OpeningHoursSpecification",
                "dayOfWeek": f"https://schema.org/{DAY_NAMES[index]}",
                "opens": opens.strftime("%H:%M"),
                "closes": closes.strftime("%H:%M"),
            }
            for index, day in enumerate(DAYS)
            for opens, closes in practice.hours.days.get(day, [])
        ]
    elif practice.hours:
        clinic["openingHours"] = practice.hours  # free text: schema.org takes it as written
    return clinic
