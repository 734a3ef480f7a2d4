"""The form page, its POST and the confirmation page."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from .forms import AppointmentForm


@require_http_methods(["GET", "POST"])
def request_appointment(request: HttpRequest) -> HttpResponse:
    """Show the form; store a valid POST and send the browser on, as the portal does (303)."""
    if request.method == "POST":
        form = AppointmentForm(request.POST)
        if form.is_valid():
            form.save()
            response = HttpResponseRedirect(reverse("appointment_received"))
            response.status_code = 303
            return response
        return render(request, "django_peer/appointment.html", {"form": form}, status=422)
    return render(request, "django_peer/appointment.html", {"form": AppointmentForm()})


@require_GET
def appointment_received(request: HttpRequest) -> HttpResponse:
    """The confirmation page."""
    return render(request, "django_peer/received.html")
