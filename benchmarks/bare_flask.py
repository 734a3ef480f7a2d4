"""The ceiling of this stack: a bare Flask app under the same gunicorn that returns a fixed page.

The page is the portal's own rendered appointment form (its bytes, read once from the file named
by BENCH_PAGE), so both apps send the same amount over the wire.
"""

import os
from pathlib import Path

from flask import Flask, Response

PAGE = Path(os.environ["BENCH_PAGE"]).read_bytes() if "BENCH_PAGE" in os.environ else b"ok"

app = Flask(__name__)


@app.get("/")
def page() -> Response:
    """The same bytes every time."""
    return Response(PAGE, mimetype="text/html")
