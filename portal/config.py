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
# memory:// counts in each process on its own; with several gunicorn workers or hosts, point
# every one of them at one Redis (redis://host:6379/0) so a limit holds across all of them.
RATELIMIT_STORAGE_URI = "memory://"
# Redis unreachable: the forms keep working, limits are counted in memory meanwhile, and
# Flask-Limiter logs a warning (and, later, that the storage recovered).
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
# Passed to the storage client: a Redis that does not answer costs a second, not a hung worker.
RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
# Keys in the shared storage start with this: give each portal sharing one Redis its own.
RATELIMIT_KEY_PREFIX = "portal"
RATELIMIT_HEADERS_ENABLED = True

# CSRF tokens last an hour; an expired one gives the form back with the typed values.
WTF_CSRF_TIME_LIMIT = 3600

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Links in staff emails are built from this, never from the request's Host header.
PUBLIC_BASE_URL = "http://127.0.0.1:5000"

# --- Production: reverse proxy, security headers, health check, logs ---------------------------
# How many reverse proxies (load balancer, nginx...) stand in front of the portal and append the
# client's address to X-Forwarded-For and set X-Forwarded-Proto. 0 trusts no such header: the
# address the rate limiter counts is the connection's own, whatever a client sends.
TRUSTED_PROXY_COUNT = 0
# Sent on every response. No 'unsafe-inline': templates load scripts and styles from static/.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# Strict-Transport-Security max-age (one year), sent only on requests that arrived over HTTPS.
HSTS_MAX_AGE = 31536000
# /healthz answers 503 when the oldest message still waiting in the outbox is older than this
# many seconds (0: the outbox's age never fails the check).
HEALTH_OUTBOX_MAX_AGE = 900
# One line per request and per delivery attempt on standard error: "text" or "json".
LOG_FORMAT = "text"
LOG_LEVEL = "INFO"

# --- Email: Flask-Mail settings and the outbox that delivers through it ------------------------
# No mail server: the outbox worker writes every message as an .eml file in <instance>/mail/.
MAIL_SERVER = None
MAIL_PORT = 25
MAIL_USE_TLS = False  # STARTTLS, with the server's certificate verified
MAIL_USE_SSL = False  # implicit TLS (port 465), certificate verified
MAIL_USERNAME = None
MAIL_PASSWORD = None  # a secret: instance/config.py or PORTAL_MAIL_PASSWORD
# Flask-Mail would silently drop every message under TESTING; the tests send to a real server.
MAIL_SUPPRESS_SEND = False
# From on every email, e.g. "Boston Out-Patient Surgical Suites <no-reply@practice.example>";
# its domain also names every Message-ID.
MAIL_DEFAULT_SENDER = "no-reply@localhost"
# Seconds one SMTP operation (connect, each command, each block of data) may take.
MAIL_TIMEOUT = 30

# Who receives the notification of a new submission, unless the practice profile routes its
# specialty or topic elsewhere.
FRONT_DESK_EMAILS = ["front-desk@localhost"]
# True puts every submitted field in the front-desk notification: only for practices whose
# mail provider is covered for health information. False sends no patient details.
NOTIFY_INCLUDE_DETAILS = False

# Retries: OUTBOX_RETRY_BASE seconds before the first, doubling up to OUTBOX_RETRY_MAX, with
# jitter; a message still not accepted OUTBOX_GIVE_UP_AFTER seconds after it was queued fails.
OUTBOX_RETRY_BASE = 60
OUTBOX_RETRY_MAX = 1800
OUTBOX_GIVE_UP_AFTER = 86400
# Failed delivery attempts in a row (any message, any worker) that mean delivery is in trouble;
# an authentication or certificate failure counts as this many at once.
DELIVERY_ALARM_AFTER = 5
# Seconds a worker owns the messages it claimed (renewed while it works); a worker that dies
# loses them after this, and another takes them over.
OUTBOX_LEASE = 60
# Seconds an idle worker waits before looking for due messages again.
OUTBOX_POLL_INTERVAL = 2.0
# Messages claimed (and sent over one SMTP connection) at a time.
OUTBOX_BATCH_SIZE = 50

# --- Staff area: sign-in, sessions, two-factor, exports and retention --------------------------
# A staff session ends after this many seconds without a request, and this long after sign-in
# whatever happens (HIPAA 164.312(a)(2)(iii), automatic logoff).
SESSION_IDLE_TIMEOUT = 15 * 60
SESSION_ABSOLUTE_TIMEOUT = 12 * 60 * 60
# True makes every staff account set up a TOTP authenticator before it can sign in.
REQUIRE_2FA = False
# Failed sign-ins allowed per account, and per client address, within the window (seconds);
# counted in the database, so every web process sees the same count.
LOGIN_MAX_FAILURES = 5
LOGIN_FAILURE_WINDOW = 15 * 60
# How staff passwords are hashed (Werkzeug's method string). Keep scrypt in production; the
# tests set a cheap method so that a hundred sign-ins do not take half a minute.
PASSWORD_HASH_METHOD = "scrypt"
# Submissions older than this many days are deleted by `flask --app portal purge`.
RETENTION_DAYS = 365
# Rows fetched from the database per query while an export streams.
EXPORT_BATCH_SIZE = 1000
# The session cookie is always HttpOnly and SameSite=Lax; it is also Secure whenever the request
# came over HTTPS (behind a proxy, with ProxyFix). True makes it Secure even over plain HTTP.
SESSION_COOKIE_SECURE = False
