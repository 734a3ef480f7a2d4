"""Commands for operators: flask --app portal <command>."""

from flask import Flask


def register(app: Flask) -> None:
    """Attach the portal's command groups to the app."""
