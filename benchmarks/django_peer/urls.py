"""The portal's two URLs for the appointment form."""

from django.urls import path

from . import views

urlpatterns = [
    path("request-an-appointment", views.request_appointment, name="request_appointment"),
    path(
        "request-an-appointment/received",
        views.appointment_received,
        name="appointment_received",
    ),
]
