"""What the API accepts, as constants: the views validate with them and the OpenAPI document
states them, so the two cannot drift apart."""

from __future__ import annotations

KINDS = ("appointment", "contact")
MAX_LIMIT = 100
NOTE_MAX_LENGTH = 2000
REFERENCE_PATTERN = r"^(APT|MSG)-[A-Z2-9]{6,12}$"
# Where a page starts: the receipt time (microseconds since 1970) and id of the last one seen;
# at most 9 digits of id, so any cursor of this pattern fits the database's integer column.
CURSOR_PATTERN = r"^([0-9]{1,16})-([0-9]{1,9})$"
# Plain text with at least one visible character: tab and line breaks are the only control
# characters allowed (the staff form's rule). The same pattern is checked by the view.
_TEXT = r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"
_VISIBLE = r"[^\s\u0000-\u001f\u007f-\u009f]"
NOTE_PATTERN = f"^{_TEXT}*{_VISIBLE}{_TEXT}*$"
