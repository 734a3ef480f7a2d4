"""The staff password rule, which lives in portal/passwords.py (the CLI shares it)."""

from ..passwords import MAX_LENGTH, MIN_LENGTH, password_problem

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "password_problem"]
