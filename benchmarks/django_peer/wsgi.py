"""WSGI entry point for gunicorn: ``gunicorn benchmarks.django_peer.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.django_peer.settings")
application = get_wsgi_application()
