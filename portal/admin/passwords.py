"""The password rule for staff accounts: at least 12 characters, and not a common password.

The list of common passwords ships inside the package (data/common-passwords.txt: the 10,000
most frequent passwords of the zxcvbn project's frequency list, every 12-character-or-longer one
in it, and a few common long patterns, all lower case).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

MIN_LENGTH = 12
# scrypt's cost does not grow with the length, but nobody needs more than this.
MAX_LENGTH = 1024


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower case."""
    text = files("portal").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why this password may not be used, in plain words; None when it may."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"Password must be {MAX_LENGTH} characters or fewer"
    lowered = password.lower()
    if lowered in common_passwords():
        return "This password is too common: choose one that is harder to guess"
    if email and lowered in {email.lower(), email.split("@")[0].lower()}:
        return "Password must not be your email address"
    return None
