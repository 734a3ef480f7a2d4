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
    weeks = dashboard.weekly(db.session, practice, now)
    parts = dashboard.breakdowns(db.session, practice, now)
    return render_template(
        "admin/dashboard.html",
        day=front_desk.today(db.session, practice, now, target),
        target=target,
        weeks=weeks,
        parts=parts,
        chart=_charts(weeks, parts),
        kinds=KINDS,
    )


def _charts(weeks: list[dashboard.Week], parts: dashboard.Breakdowns) -> dict[str, charts.Chart]:
    """Each chart of the page by name: the two weekly ones, then one per breakdown."""
    labels = [week.label for week in weeks]
    return {
        "requests": charts.columns(
            labels,
            [
                (f"series-{key}", str(kind.plural), [week.requests[key] for week in weeks])
                for key, kind in KINDS.items()
            ],
            stacked=True,
        ),
        "response": charts.columns(
            labels,
            [
                ("series-median", "Median", [week.hours[0] or 0 for week in weeks]),
                ("series-p80", "80th percentile", [week.hours[1] or 0 for week in weeks]),
            ],
            stacked=False,
            unit=" h",
        ),
        "specialty": charts.horizontal(parts.specialty),
        "topic": charts.horizontal(parts.topic),
        "language": charts.horizontal(parts.language),
    }
