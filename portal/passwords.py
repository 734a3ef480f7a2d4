"""The one password rule for staff accounts, used by the CLI, the users page and the account page.

A password must be at least 12 characters long, not in the shipped list of common passwords
(data/common-passwords.txt: the 10,000 most frequent passwords of the zxcvbn project's frequency
list, every 12-character-or-longer one in it, and a few common long patterns, all lower case),
not built from the account's email address, the practice's name or its domain, and score at
least 3 of 4 on zxcvbn's strength estimate (the `zxcvbn` package, the maintained Python port of
Dropbox's estimator), given those same words as ones an attacker would try first.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from zxcvbn import zxcvbn

MIN_LENGTH = 12
# scrypt's cost does not grow with the length, but nobody needs more than this.
MAX_LENGTH = 1024
# zxcvbn's score: 3 is "safely unguessable: moderate protection from offline slow-hash attacks".
MIN_SCORE = 3
# zxcvbn's run time grows with the length; past this, the prefix decides (it is long enough).
ESTIMATE_LENGTH = 100
# Words shorter than this are too common as parts of passphrases to forbid ("the", "and"...).
MIN_WORD = 3
# Domain labels that say nothing about the practice.
GENERIC_LABELS = {"www", "com", "org", "net", "edu", "gov", "example", "localhost", "mail"}


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower case."""
    text = files("portal").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def personal_words(email: str | None) -> list[str]:
    """What a password must not be built from: the email's parts, the practice's name and domain."""
    words: set[str] = set()
    if email:
        local, _, domain = email.lower().partition("@")
        words.add(local)
        words.update(re.split(r"[^a-z0-9]+", local))
        words.update(label for label in domain.split(".") if label not in GENERIC_LABELS)
    if has_app_context():
        practice = current_app.extensions.get("practice")
        if practice is not None:
            name = practice.name.lower()
            parts = re.split(r"[^a-z0-9]+", name)
            words.update(parts)
            words.add("".join(parts))
            for url in (practice.website_url, current_app.config.get("PUBLIC_BASE_URL")):
                host = urlsplit(url or "").hostname or ""
                words.update(
                    label
                    for label in host.split(".")
                    if label not in GENERIC_LABELS and not label.isdigit()
                )
    # Longest first: "frontdesk.reception" is taken out whole before "frontdesk".
    return sorted((w for w in words if len(w) >= MIN_WORD), key=len, reverse=True)


def built_from(password: str, words: list[str]) -> bool:
    """True when little is left of the password once those words, digits and symbols are taken out.

    "Boston123456", "bostonoutpatient" and "frontdesk.reception" (for frontdesk.reception@...)
    are all made of the account's or the practice's own words with padding around them.
    """
    rest = password.lower()
    found = False
    for word in words:
        if word in rest:
            rest = rest.replace(word, " ")
            found = True
    letters = re.sub(r"[^a-z]", "", rest)
    return found and len(letters) < 4


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why this password may not be used, in plain words; None when it may."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"Password must be {MAX_LENGTH} characters or fewer"
    lowered = password.lower()
    if lowered in common_passwords():
        return "This password is too common: choose one that is harder to guess"
    words = personal_words(email)
    if email and lowered in {email.lower(), email.split("@")[0].lower()}:
        return "Password must not be your email address"
    if built_from(password, words):
        return "Password must not be made from your email address or the practice's name or website"
    if zxcvbn(password[:ESTIMATE_LENGTH], user_inputs=words)["score"] < MIN_SCORE:
        return (
            "This password is too easy to guess: use three or four unrelated words, "
            "or a longer phrase"
        )
    return None
