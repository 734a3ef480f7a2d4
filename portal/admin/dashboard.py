"""The dashboard: the front desk's day and the last weeks, as charts with their tables."""

from __future__ import annotations

from flask import current_app, render_template

from .. import charts, dashboard, front_desk
from ..extensions import db
from ..models import utcnow
from ..submissions import KINDS
from . import bp


@bp.get("/dashboard", endpoint="dashboard")
def dashboard_page() -> str:
    """Today's figures, the last twelve weeks, and what the requests are about."""
    practice = current_app.extensions["practice"]
    now = utcnow()
    target = float(current_app.config["RESPONSE_TARGET_HOURS"])
    day = front_desk.today(db.session, practice, now, target)
    weeks = dashboard.weekly(db.session, practice, now)
    labels = [week.start.strftime("%b %-d") for week in weeks]
    requests_chart = charts.columns(
        labels,
        [
            (f"series-{key}", str(kind.plural), [week.requests[key] for week in weeks])
            for key, kind in KINDS.items()
        ],
        stacked=True,
    )
    hours = [
        [None if s is None else round(s / 3600, 1) for s in (week.median_seconds, week.p80_seconds)]
        for week in weeks
    ]
    response_chart = charts.columns(
        labels,
        [
            ("series-median", "Median", [h[0] or 0 for h in hours]),
            ("series-p80", "80th percentile", [h[1] or 0 for h in hours]),
        ],
        stacked=False,
        unit=" h",
    )
    parts = dashboard.breakdowns(db.session, practice, now)
    return render_template(
        "admin/dashboard.html",
        day=day,
        target=target,
        weeks=weeks,
        week_labels=labels,
        hours=hours,
        requests_chart=requests_chart,
        response_chart=response_chart,
        parts=parts,
        part_charts={
            name: charts.horizontal(rows)
            for name, rows in (
                ("specialty", parts.specialty),
                ("topic", parts.topic),
                ("language", parts.language),
            )
        },
        kinds=KINDS,
    )
