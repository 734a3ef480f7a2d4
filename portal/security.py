"""Security headers on every response, and the reverse proxies the portal may trust.

The headers are added in an ``after_request`` hook, which Flask runs for every response it
makes: pages, redirects, error pages (400...503, raised or unhandled), static files and
downloads alike. The same hook makes every redirect host-relative: Werkzeug builds the
``Location`` of its own redirects (merging ``//`` in a path, adding a trailing slash) from the
request's ``Host`` header, which a client chooses.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response


def register(app: Flask) -> None:
    """Trust the configured number of proxies and send the security headers on every response."""
    proxies = int(app.config["TRUSTED_PROXY_COUNT"])
    if proxies < 0:
        raise RuntimeError("TRUSTED_PROXY_COUNT must be 0 or more")
    if proxies:
        # Only the entries the trusted proxies added are believed: with one proxy, the last
        # address of X-Forwarded-For is the client's; anything a client put before it is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    ancestors = frame_ancestors(app.config["FRAME_ANCESTORS"])
    static_headers = {
        "Content-Security-Policy": with_frame_ancestors(
            app.config["CONTENT_SECURITY_POLICY"], ancestors
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": app.config["PERMISSIONS_POLICY"],
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not ancestors:
        # For browsers that predate frame-ancestors. It cannot name several origins, so with
        # FRAME_ANCESTORS set the CSP alone decides (every current browser reads it).
        static_headers["X-Frame-Options"] = "DENY"
    hsts = f"max-age={int(app.config['HSTS_MAX_AGE'])}"

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in static_headers.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            # Over plain HTTP a browser ignores it anyway, and a local test server must not get it.
            response.headers.setdefault("Strict-Transport-Security", hsts)
        if response.location:
            response.location = same_site_location(response.location)
        return response


def same_site_location(location: str) -> str:
    """A redirect to this request's own host, as a path: never a host the client named."""
    parts = urlsplit(location)
    if not (parts.scheme or parts.netloc):
        return location  # already relative, as url_for() makes them
    if parts.netloc.lower() != request.host.lower():
        return location  # somewhere else on purpose (none of the portal's views does this)
    # One leading slash: "//evil.example/x" would be read as another host.
    path = "/" + parts.path.lstrip("/")
    return urlunsplit(("", "", path, parts.query, parts.fragment))


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def frame_ancestors(origins: object) -> list[str]:
    """FRAME_ANCESTORS checked: a list of origins such as "https://www.practice.example"."""
    if isinstance(origins, str) or not isinstance(origins, list | tuple):
        raise RuntimeError(
            'FRAME_ANCESTORS must be a list of origins, e.g. ["https://www.practice.example"]'
        )
    for origin in origins:
        if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
            raise RuntimeError(
                f"FRAME_ANCESTORS: {origin!r} is not an origin such as "
                '"https://www.practice.example" (scheme and host, no path)'
            )
    return list(origins)


def with_frame_ancestors(policy: str, ancestors: list[str]) -> str:
    """The policy with its frame-ancestors directive set from FRAME_ANCESTORS ('none' if empty)."""
    directive = "frame-ancestors " + (" ".join(ancestors) if ancestors else "'none'")
    parts = [p.strip() for p in policy.split(";") if p.strip()]
    kept = [p for p in parts if not p.lower().startswith("frame-ancestors")]
    return "; ".join([*kept, directive])
