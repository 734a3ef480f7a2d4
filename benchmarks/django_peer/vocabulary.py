"""The appointment form's choices and lengths, as the portal has them (no Django imports here).

Copied from portal/public/fields.py and forms.py and the default practice profile
(portal/practice.py) rather than imported, so the peer loads no Flask code;
tests/test_benchmarks.py checks they still match.
"""

NAME_MAX = 100  # portal/public/fields.py NAME_MAX: names, insurance, referring physician
PHONE_MAX = 40  # the portal's Length(max=40) on the phone number as typed
EMAIL_MAX = 254
TEXT_MAX = 2000  # the reason for the visit

CONTACT_METHODS = [("phone", "Phone"), ("email", "Email"), ("text", "Text message")]
PATIENT_TYPES = [("new", "New patient"), ("returning", "Returning patient")]
PREFERRED_TIMES = [("morning", "Morning"), ("afternoon", "Afternoon"), ("any", "Any time")]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

# The default practice's (Boston Out-Patient Surgical Suites); it lists no physicians.
SPECIALTIES = [
    "Total hip replacement",
    "Total knee replacement",
    "Total shoulder replacement",
    "Other or not sure",
]
PHYSICIANS: list[str] = []

CONSENT = (
    "I understand that this is a request, not a confirmed appointment: the front desk will "
    "contact me to arrange a time. In an emergency, I will call 911."
)
