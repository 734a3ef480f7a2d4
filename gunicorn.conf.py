"""gunicorn settings for the portal (read from the current folder by default).

    gunicorn 'portal:create_app()'                       # from the checkout
    gunicorn -c /etc/portal/gunicorn.conf.py 'portal:create_app()'

Any value can be overridden on the command line (``-b 0.0.0.0:8000``, ``-w 4``) or with
GUNICORN_CMD_ARGS. The portal's own settings come from PORTAL_* variables or the instance folder's
config.py, never from here. See docs/deployment.md.
"""

import multiprocessing
import os

# Behind a reverse proxy on the same host; -b changes it.
bind = ["127.0.0.1:8000"]

# Processes, each with its own database connections. WEB_CONCURRENCY is gunicorn's convention.
# The portal is CPU-bound (a few ms of Python per request, little waiting), so one process per CPU
# plus one: more only add contention -- on 2 CPUs, 5 workers instead of 3 raised the POST p99 from
# 81 to 157 ms on SQLite (writers waiting for its lock) and cut PostgreSQL's POST rate from 510 to
# 448 per second (docs/benchmarks.md).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "sync"
threads = 1

# The factory runs in every worker after the fork: database engines and Redis connections are
# never shared between processes.
preload_app = False

# A request that takes longer than this is killed and its worker replaced.
timeout = 30
graceful_timeout = 30
keepalive = 5

# Forwarded headers are the portal's business (TRUSTED_PROXY_COUNT and Werkzeug's ProxyFix), not
# gunicorn's: trusting X-Forwarded-Proto from any local process would let a client on this host
# claim HTTPS.
forwarded_allow_ips = ""

# The portal logs one line per request itself (portal.requests, without query strings), so
# gunicorn's access log stays off; its own messages go to standard error.
accesslog = None
errorlog = "-"
loglevel = "info"

# gunicorn 25.1+ opens a control socket (for gunicornc) at one default path per user, which two
# instances on one host would fight over. Off here; to use it, give each instance its own path:
# --control-socket /run/portal/gunicorn.ctl (older gunicorn ignores these names).
control_socket_disable = True

# The workers' heartbeat files on a RAM disk where there is one (as in most containers).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
