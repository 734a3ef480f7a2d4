"""The practice profile: who the practice is, read and checked from instance/practice.toml.

``profile`` holds the profile itself, ``hours`` its opening hours, ``loading`` and ``checks`` the
reading of practice.toml, ``formatting`` how its values are shown, ``presentation`` its
taglines and schema.org JSON-LD. The rest of the portal imports
from here.
"""

from .formatting import contrast_ratio, darker, file_digest, format_phone
from .hours import DAY_NAMES, DAYS, OpeningHours
from .loading import LOGO_MAX_BYTES, LOGO_TYPES, ProfileError, check_profile, load_practice
from .profile import Link, Notice, Practice

__all__ = [
    "DAYS",
    "DAY_NAMES",
    "LOGO_MAX_BYTES",
    "LOGO_TYPES",
    "Link",
    "Notice",
    "OpeningHours",
    "Practice",
    "ProfileError",
    "check_profile",
    "contrast_ratio",
    "darker",
    "file_digest",
    "format_phone",
    "load_practice",
]
