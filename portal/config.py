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

# Patient forms, both limits shared by the two forms and counted per client address.
# Accepted submissions (the patient was told "received"): a form sent back with errors does not
# count, so a patient who corrects a few mistakes is never turned away by them.
SUBMISSION_RATE_LIMIT = "5 per 10 minutes"
# Every POST to the patient forms, valid or not: looser, and what stops a flood of bad forms.
FORM_POST_RATE_LIMIT = "30 per 10 minutes"
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
# Host names the portal answers to (Flask's own setting); a request naming any other host gets
# 400. None means: outside debug and testing, the host of PUBLIC_BASE_URL only (a loopback one,
# as in a local run, also trusts 127.0.0.1 and localhost). A list such as
# ["portal.practice.example"] replaces that; a name starting with "." also trusts its subdomains.
TRUSTED_HOSTS = None

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
# Origins allowed to show the portal's pages in a frame (the practice's own website), e.g.
# ["https://www.practice.example"]; they replace 'none' in the policy's frame-ancestors. Empty:
# no site may frame the portal. The framing site must be the same site as the portal (e.g.
# www.practice.example and portal.practice.example): browsers withhold the portal's session
# cookie, and with it the form's CSRF check, from a frame on another site.
FRAME_ANCESTORS: list[str] = []
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# Strict-Transport-Security max-age (one year), sent only on requests that arrived over HTTPS.
HSTS_MAX_AGE = 31536000
# Delivery trouble (/healthz/delivery answers 503) when the oldest message still waiting in the
# outbox is older than this many seconds (0: the outbox's age never counts as trouble).
HEALTH_OUTBOX_MAX_AGE = 900
# One line per request and per delivery attempt on standard error: "text" or "json".
LOG_FORMAT = "text"
LOG_LEVEL = "INFO"

# --- Email: Flask-Mail settings and the outbox that delivers through it ------------------------
# No mail server: the outbox worker writes every message as an .eml file in <instance>/mail/.
MAIL_SERVER = None
MAIL_PORT = 587
MAIL_USE_TLS = True  # STARTTLS, with the server's certificate verified
MAIL_USE_SSL = False  # implicit TLS (port 465), certificate verified; turns STARTTLS off
# Mail carries patient data: with MAIL_SERVER set and neither TLS setting on, the portal refuses
# to start unless this is True (a relay on this host or a private network), and then logs a
# warning at every start.
MAIL_ALLOW_PLAINTEXT = False
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
# Delivery trouble (banner on staff pages, /healthz/delivery 503, an ERROR line, the alert
# webhook) starts when this many attempts to send email in a row (any message, any worker) have
# failed, or one webhook event has failed this many times; an authentication or certificate
# failure counts as this many at once.
DELIVERY_ALARM_AFTER = 5
# Seconds a worker owns the messages it claimed (renewed while it works); a worker that dies
# loses them after this, and another takes them over.
OUTBOX_LEASE = 60
# Seconds an idle worker waits before looking for due messages again.
OUTBOX_POLL_INTERVAL = 2.0
# Messages claimed (and sent over one SMTP connection) at a time.
OUTBOX_BATCH_SIZE = 50
# Webhooks (/admin/webhooks): seconds one HTTP attempt may take (redirects are never followed).
WEBHOOK_TIMEOUT = 10
# True lets webhooks reach loopback, private and link-local addresses (an integration engine on
# the practice's own network); False refuses them, checked on the resolved address every time.
WEBHOOK_ALLOW_PRIVATE = False
# True allows http:// endpoint URLs; events then cross the network unencrypted.
WEBHOOK_ALLOW_HTTP = False
# Attempts for a webhook the receiver refuses with a 4xx other than 410 and 429, then it fails.
WEBHOOK_4XX_ATTEMPTS = 3
# A Slack, Mattermost or Teams incoming webhook (or any URL taking a JSON POST) told when
# delivery trouble starts and ends: email alone cannot carry the alarm when email is broken.
# A secret (anyone with it can post): instance/config.py or PORTAL_ALERT_WEBHOOK_URL. None: off.
ALERT_WEBHOOK_URL = None

# --- Staff area: sign-in, sessions, two-factor, exports and retention --------------------------
# A staff session ends after this many seconds without a request, and this long after sign-in
# whatever happens (HIPAA 164.312(a)(2)(iii), automatic logoff).
SESSION_IDLE_TIMEOUT = 15 * 60
SESSION_ABSOLUTE_TIMEOUT = 12 * 60 * 60
# True makes every staff account sign in with a TOTP code; an account without an authenticator
# sets one up only through a one-time link an admin creates (users page, or
# `flask --app portal users setup-link EMAIL`): a password alone never reaches the set-up page.
REQUIRE_2FA = False
# Failed sign-ins allowed for one account from one client address within the window (seconds):
# past it, that address may not try that account until the window ends; other addresses still
# may, so an attacker cannot lock staff out. Also the number of unknown accounts one address may
# try. Counted in the database, atomically and before the password is checked, so every web
# process sees the same count and simultaneous attempts cannot exceed it.
LOGIN_MAX_FAILURES = 5
LOGIN_FAILURE_WINDOW = 15 * 60
# Failed sign-ins for one account from anywhere within this window (seconds) before a growing
# delay (2, 4, 8... seconds, at most 5 minutes) is asked between attempts from addresses that
# already failed; the account is never locked, and an address with no recent failure is not held.
LOGIN_ACCOUNT_MAX_FAILURES = 50
LOGIN_ACCOUNT_WINDOW = 60 * 60
# Requests (POSTs) to the sign-in pages per client address (Flask-Limiter syntax).
LOGIN_RATE_LIMIT = "30 per minute"
# Seconds a one-time two-factor set-up link, created by an admin, stays valid (72 hours).
SETUP_LINK_LIFETIME = 72 * 60 * 60
# Seconds an admin's re-entered password covers sensitive account changes (adding or promoting
# an admin, changing a role, disabling an admin) before it is asked again.
STEP_UP_LIFETIME = 10 * 60
# How staff passwords are hashed (Werkzeug's method string). Keep scrypt in production; the
# tests set a cheap method so that a hundred sign-ins do not take half a minute.
PASSWORD_HASH_METHOD = "scrypt"
# When the front desk's daily digest is sent on each business day, "HH:MM" in the practice's
# time zone (by the outbox worker, once a day whatever the number of workers); "" turns it off.
DIGEST_TIME = "07:30"
# Submissions older than this many days are deleted by `flask --app portal purge`.
RETENTION_DAYS = 365
# Rows fetched from the database per query while an export streams.
EXPORT_BATCH_SIZE = 1000
# Business hours (open hours of the practice profile's [hours], less holidays) a New request may
# wait for its first response before it is Overdue: 8 is one business day of most practices.
# Shown in the inbox, the dashboard and the digest. With free-text hours no business time can be
# counted, and this is hours of elapsed time.
RESPONSE_TARGET_HOURS = 8

# --- The API for machines at /api/v1 ------------------------------------------------------------
# Requests per API token, counted in the same storage as the forms' limits (RATELIMIT_STORAGE_URI),
# so the limit holds across every process and host that shares it.
API_RATE_LIMIT = "600 per minute"
# The session cookie is always HttpOnly and SameSite=Lax; it is also Secure whenever the request
# came over HTTPS (behind a proxy, with ProxyFix), and then named __Host-session (Path=/, no
# Domain), so no other host of the domain can set or shadow it. True makes it Secure (and
# __Host-) even over plain HTTP.
SESSION_COOKIE_SECURE = False
