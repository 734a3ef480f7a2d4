"""Admins' pages: exports of submissions and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Response,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import or_, select
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import exports
from ..audit import ACTIONS
from ..exports import Filters, local_day_bounds
from ..extensions import db
from ..models import AuditEvent
from ..services import exports as export_service
from . import bp
from .filter_forms import AuditForm, ExportForm, FilterForm
from .staff import staff_actor
from .views import EmptyPage, practice, requested_page

AUDIT_PER_PAGE = 50


def filters_from(form: FilterForm) -> Filters:
    """The export filters of a validated form."""
    return Filters(
        form=form.kind.data or None,
        since=form.since.data,
        until=form.until.data,
        status=form.status.data or None,
    )


@bp.get("/export")
def export() -> WerkzeugResponse | tuple[str, int]:
    """Choose what to export; the download itself is export_file."""
    submitted = "format" in request.args
    form = ExportForm(formdata=request.args if submitted else None)
    if submitted and form.validate():
        filters = filters_from(form)
        # url_for takes its values as Any, beside its own typed _external, _anchor...
        params: dict[str, Any] = {k: v for k, v in filters.describe().items() if v}
        return redirect(url_for(".export_file", fmt=form.format.data or "csv", **params), 303)
    if not submitted:
        return render_template("admin/export.html", form=form), 200
    return render_template("admin/export.html", form=form), 400 if form.refused() else 422


@bp.get("/export.<any(csv, xlsx, json, ndjson):fmt>")
def export_file(fmt: str) -> Response:
    """Stream the export; the audit record (with the row count) is committed before any row."""
    form = FilterForm(formdata=request.args)
    if not form.validate():
        abort(400)
    filters = filters_from(form)
    started = export_service.start(db.session, staff_actor(), filters, fmt)
    name = exports.filename(filters, fmt, datetime.now(practice().zone).date())
    return Response(
        stream_with_context(started.chunks),
        content_type=exports.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/audit")
def audit_log() -> tuple[str, int]:
    form = AuditForm(formdata=request.args)
    form.validate()
    number = requested_page()
    if number is None or form.refused():
        return render_template(
            "admin/audit.html", form=form, page=EmptyPage(), actions=ACTIONS, page_args={}
        ), 400
    statement = select(AuditEvent)
    # The valid filters, and only they, are carried by the page links.
    used: dict[str, str] = {}
    if form.action.data and not form.action.errors:
        statement = statement.where(AuditEvent.action == form.action.data)
        used["action"] = form.action.data
    if form.who.data and not form.who.errors:
        term = form.who.data.strip()
        used["who"] = term
        statement = statement.where(
            or_(
                AuditEvent.actor.icontains(term, autoescape=True),
                AuditEvent.target.icontains(term, autoescape=True),
                AuditEvent.ip == term,
            )
        )
    since = None if form.since.errors else form.since.data
    until = None if form.until.errors else form.until.data
    start, end = local_day_bounds(since, until, practice().zone)
    # A start comes from a since and an end from an until, never alone.
    if start is not None and since is not None:
        statement = statement.where(AuditEvent.created_at >= start)
        used["since"] = since.isoformat()
    if end is not None and until is not None:
        statement = statement.where(AuditEvent.created_at < end)
        used["until"] = until.isoformat()
    page = db.paginate(
        statement.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()),
        page=number,
        per_page=AUDIT_PER_PAGE,
        error_out=False,  # past the last page: an empty page, not an error
    )
    return render_template(
        "admin/audit.html", form=form, page=page, actions=ACTIONS, page_args=used
    ), 200
