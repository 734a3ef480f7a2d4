"""Default settings: safe for a first run, overridden by instance/config.py and PORTAL_* variables.

Secrets never live here. Every name below can be set as an environment variable with the
``PORTAL_`` prefix (``PORTAL_SECRET_KEY``, ``PORTAL_SUBMISSION_RATE_LIMIT``...); values are read
as JSON when they parse as JSON, so ``PORTAL_FRONT_DESK_EMAILS='["a@x.org", "b@x.org"]'`` works.
"""

# The factory refuses to start outside debug or testing while this is still the key.
DEFAULT_SECRET_KEY = "insecure-development-key-change-me"
SECRET_KEY = DEFAULT_SECRET_KEY

# Database: None means "portal.sqlite3 in the instance folder" (worked out by the factory).
SQLALCHEMY_DATABASE_URI = None
# Seconds a SQLite writer waits for a lock before the form answers 503.
DATABASE_BUSY_TIMEOUT = 5.0

# Request bodies over this size get the 413 page; the forms need a few kilobytes at most.
MAX_CONTENT_LENGTH = 64 * 1024

# Patient forms: one limit shared by both forms, counted per client address.
SUBMISSION_RATE_LIMIT = "5 per 10 minutes"
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True

# CSRF tokens last an hour; an expired one gives the form back with the typed values.
WTF_CSRF_TIME_LIMIT = 3600

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Links in staff emails are built from this, never from the request's Host header.
PUBLIC_BASE_URL = "http://127.0.0.1:5000"
