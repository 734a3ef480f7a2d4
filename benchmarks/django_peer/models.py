"""One table: the appointment request, with the portal's fields, lengths and choices."""

from django.db import models

from . import vocabulary as v


class Appointment(models.Model):
    """One appointment request (the portal writes this and two outbox rows; the peer only this)."""

    created_at = models.DateTimeField(auto_now_add=True)
    first_name = models.CharField("First name", max_length=v.NAME_MAX)
    last_name = models.CharField("Last name", max_length=v.NAME_MAX)
    date_of_birth = models.DateField("Date of birth")
    phone = models.CharField("Phone number", max_length=v.PHONE_MAX)
    email = models.EmailField("Email address", max_length=v.EMAIL_MAX, blank=True)
    contact_method = models.CharField(
        "How should we contact you?", max_length=16, choices=v.CONTACT_METHODS, default="phone"
    )
    specialty = models.CharField(
        "Specialty", max_length=v.NAME_MAX, choices=[(s, s) for s in v.SPECIALTIES]
    )
    physician = models.CharField(
        "Physician",
        max_length=v.NAME_MAX,
        blank=True,
        choices=[("", "No preference"), *[(p, p) for p in v.PHYSICIANS]],
    )
    patient_type = models.CharField(
        "New or returning patient?", max_length=16, blank=True, choices=v.PATIENT_TYPES
    )
    # The ticked weekdays joined with ", ", as the portal stores them.
    preferred_days = models.CharField("Preferred days", max_length=64, blank=True)
    preferred_time = models.CharField(
        "Preferred time of day", max_length=16, blank=True, choices=v.PREFERRED_TIMES
    )
    insurance = models.CharField("Insurance provider", max_length=v.NAME_MAX, blank=True)
    referring_physician = models.CharField("Referring physician", max_length=v.NAME_MAX, blank=True)
    reason = models.TextField("Reason for visit", max_length=v.TEXT_MAX)

    class Meta:
        db_table = "appointment"
