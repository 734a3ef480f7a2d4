"""A Django peer of the portal's appointment form, measured beside it by benchmarks/http_load.py.

A minimal Django app as its own documentation would have it: a model with the appointment's
fields, a ModelForm over it (so the validation is what Django gives for free), CSRF on, one row
written per valid POST. It is not part of the portal and is never installed with it.
"""
