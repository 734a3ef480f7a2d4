"""Test data and helpers shared by the test modules."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

# The `make_app` fixture: make_app(**overrides) or make_app(from_environment=True).
MakeApp = Callable[..., Flask]

VALID_APPOINTMENT = {
    "first_name": "Siobhán",
    "last_name": "O'Hara",
    "date_of_birth-month": "3",
    "date_of_birth-day": "27",
    "date_of_birth-year": "1980",
    "phone": "(617) 253-1000",
    "email": "siobhan@example.com",
    "contact_method": "phone",
    "specialty": "Total knee replacement",
    "physician": "",
    "patient_type": "new",
    "preferred_days": ["Monday", "Thursday"],
    "preferred_time": "morning",
    "insurance": "Blue Cross",
    "referring_physician": "Dr. Nguyễn",
    "reason": "Knee pain when running.\nWorse on stairs.",
    "consent": "y",
}

VALID_CONTACT = {
    "name": "山田 太郎",
    "email": "taro@example.com",
    "phone": "",
    "topic": "Billing",
    "message": "A question about my bill.",
}


def form_tokens(client: FlaskClient, url: str) -> dict[str, str]:
    """GET the form as a browser would and return its hidden tokens."""
    page = client.get(url).get_data(as_text=True)
    return {
        name: re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page).group(1)
        for name in ("csrf_token", "form_token")
    }
