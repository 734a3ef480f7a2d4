"""Files the pages load: static files with a content hash in their URL, the practice's logo and
the stylesheet that carries its accent colour.

A URL that names the content's hash can be cached for a year (`immutable`): a new version of a
file has a new URL. Pages themselves keep their own caching.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, abort, request
from werkzeug.wrappers import Response

from .practice import LOGO_TYPES, Practice, darker, file_digest

IMMUTABLE = "public, max-age=31536000, immutable"


def register(app: Flask) -> None:
    """Fingerprint url_for('static', …), and serve the logo and the accent stylesheet."""
    practice: Practice = app.extensions["practice"]
    static_folder = Path(app.static_folder or "")
    digests: dict[tuple[str, float], str] = {}

    def static_digest(filename: str) -> str | None:
        path = static_folder / filename
        try:
            key = (filename, path.stat().st_mtime)
        except OSError:
            return None
        if key not in digests:
            digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return digests[key]

    @app.url_defaults
    def fingerprint_static(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values:
            digest = static_digest(values.get("filename", ""))
            if digest:
                values["v"] = digest

    @app.after_request
    def cache_fingerprinted(response: Response) -> Response:
        # Only the URL that names the file's current hash is immutable; any other (no ?v=, or an
        # old one) keeps Flask's revalidation, so a stale URL never pins a stale file.
        if (
            request.endpoint == "static"
            and response.status_code == 200
            and request.args.get("v")
            and request.args["v"] == static_digest((request.view_args or {}).get("filename", ""))
        ):
            response.headers["Cache-Control"] = IMMUTABLE
            response.expires = None
        return response

    logo = _read_logo(practice, Path(app.instance_path))
    accent_css = _accent_css(practice)
    app.extensions["practice_assets"] = {
        "logo_url": f"/practice/logo-{logo[0]}{logo[1]}" if logo else None,
        "accent_css_url": (
            f"/practice/accent-{file_digest(accent_css.encode())}.css" if accent_css else None
        ),
    }

    @app.get("/practice/logo-<digest>.<ext>")
    def practice_logo(digest: str, ext: str) -> Response:
        if (
            not logo
            or f"/practice/logo-{digest}.{ext}" != app.extensions["practice_assets"]["logo_url"]
        ):
            abort(404)
        response = Response(logo[2], mimetype=LOGO_TYPES[logo[1]])
        response.headers["Cache-Control"] = IMMUTABLE
        if logo[1] == ".svg":
            # Shown through <img>, an SVG never runs script; opened on its own it might: this
            # policy keeps it inert (no script, no requests) even then.
            response.headers["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; sandbox"
            )
        return response

    @app.get("/practice/accent-<digest>.css")
    def practice_accent(digest: str) -> Response:
        if not accent_css or request.path != app.extensions["practice_assets"]["accent_css_url"]:
            abort(404)
        response = Response(accent_css, mimetype="text/css")
        response.headers["Cache-Control"] = IMMUTABLE
        return response

    @app.context_processor
    def inject_assets() -> dict[str, Any]:
        return app.extensions["practice_assets"]


def _read_logo(practice: Practice, instance: Path) -> tuple[str, str, bytes] | None:
    """The logo's digest, extension and bytes, read once at start (the profile checked them)."""
    if not practice.logo:
        return None
    data = (instance / practice.logo).read_bytes()
    return file_digest(data), Path(practice.logo).suffix.lower(), data


def _accent_css(practice: Practice) -> str | None:
    """The custom properties that give the pages the practice's colour (no inline style: CSP)."""
    if not practice.accent_color:
        return None
    colour = practice.accent_color.lower()
    return f":root {{ --brand: {colour}; --brand-dark: {darker(colour)}; }}\n"
