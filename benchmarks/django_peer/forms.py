"""The ModelForm: Django's own validation of the model's fields, plus the two form-only fields."""

from django import forms

from . import vocabulary as v
from .models import Appointment


class AppointmentForm(forms.ModelForm):
    """Request an Appointment."""

    # A multiple choice has no model field of its own; it is stored joined, like the portal's.
    preferred_days = forms.MultipleChoiceField(
        label="Preferred days",
        choices=[(d, d) for d in v.WEEKDAYS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    consent = forms.BooleanField(label=v.CONSENT, required=True)

    class Meta:
        model = Appointment
        exclude = ["created_at"]
        widgets = {
            "contact_method": forms.RadioSelect,
            "patient_type": forms.RadioSelect,
            "preferred_time": forms.RadioSelect,
        }

    def clean_preferred_days(self) -> str:
        """The ticked days as one string, as the portal stores them."""
        return ", ".join(self.cleaned_data["preferred_days"])
