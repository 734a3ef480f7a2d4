"""The deployment guide's settings table lists every setting portal/config.py defines."""

from __future__ import annotations

import re
from pathlib import Path

from portal import config

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"
NOT_SETTINGS = {"DEFAULT_SECRET_KEY"}  # the placeholder the factory compares SECRET_KEY with


def test_every_setting_is_in_the_deployment_guide_table():
    settings = {name for name in vars(config) if name.isupper()} - NOT_SETTINGS
    table = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", GUIDE.read_text(encoding="utf-8"), re.M))
    assert sorted(settings - table) == []
    assert sorted(table - settings) == []
