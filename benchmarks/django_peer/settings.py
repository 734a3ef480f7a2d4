"""Settings of the Django peer: Django's defaults except where the portal differs.

Read from the environment, as the portal's PORTAL_* settings are:

* DJANGO_PEER_DATABASE_URL -- the same URL form the portal takes (SQLAlchemy's):
  ``sqlite:////abs/path.sqlite3`` or ``postgresql+psycopg://user@host:port/name?options=...``;
* DJANGO_PEER_SECRET_KEY -- required; every gunicorn worker must share it.
"""

import os
from urllib.parse import parse_qsl, unquote, urlsplit


def database(url: str) -> dict:
    """Django's DATABASES entry for one SQLAlchemy-style URL."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            # sqlite:////abs/path -> /abs/path; sqlite:///relative -> relative
            "NAME": unquote(parts.path[1:]),
            "OPTIONS": {
                # As the portal's own connections (portal/database.py): WAL, and a commit is on
                # disk (fsync) before the answer goes out. Django 5.1+ runs these on connect.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL",
                # The portal's DATABASE_BUSY_TIMEOUT: how long a writer waits for the lock.
                "timeout": 5,
            },
        }
    if parts.scheme.startswith("postgres"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path[1:]),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # e.g. options=-csearch_path=<schema>, passed to psycopg as it is
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ValueError(f"DJANGO_PEER_DATABASE_URL: unsupported scheme {parts.scheme!r}")


SECRET_KEY = os.environ["DJANGO_PEER_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["benchmarks.django_peer.apps.DjangoPeerConfig"]

# startproject's list without what this app has no use for (sessions, auth, messages); CSRF on.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "benchmarks.django_peer.urls"
WSGI_APPLICATION = "benchmarks.django_peer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.csrf"]},
    }
]

DATABASES = {
    "default": {
        **database(os.environ.get("DJANGO_PEER_DATABASE_URL", "sqlite:///django-peer.sqlite3")),
        # Keep each worker's connection, as the portal's SQLAlchemy pool does; Django's default
        # (0) would reconnect, and rerun the PRAGMAs, on every request. No health check (a
        # SELECT 1 per request): the portal's pool does not ping either.
        "CONN_MAX_AGE": None,
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
