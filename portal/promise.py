"""What a patient is told about hearing back: how fast the practice usually answers, and
whether it is closed right now.

"Usually" is the 80th percentile of the business-time response (``response_seconds``, the wait
until a request first left New) of the requests answered in the last 30 days, rounded UP to a
band measured in the practice's business day (the typical open day's length; 24 hours when the
hours are free text, whose business time is the time that passed):

================================  ==========================================
80th percentile of the responses  what the patient reads
================================  ==========================================
up to 2 business hours            "within 2 business hours"
up to half a business day         "the same business day"
up to 1 business day              "within 1 business day"
up to 2 business days             "within 2 business days"
more                              "within 3 business days or more"
================================  ==========================================

With fewer than 20 answered requests in the window the promise is "within 1 business day". The
figure is computed at most once every CACHE_SECONDS per process, never per request.
"""

from __future__ import annotations

import logging
import math
import time as clock
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import format_date, gettext, pgettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .dashboard import percentile
from .extensions import SessionLike, db
from .i18n import clock_text
from .models import Submission, utcnow
from .practice import Practice

log = logging.getLogger(__name__)

WINDOW = timedelta(days=30)
MIN_ANSWERED = 20
PERCENTILE = 0.8
CACHE_SECONDS = 300.0
HOUR = 3600.0

BANDS = {
    "2_hours": _l("within %(n)s business hours", n=2),
    "same_day": _l("the same business day"),
    "1_day": _l("within %(n)s business day", n=1),
    "2_days": _l("within %(n)s business days", n=2),
    "3_days": _l("within %(n)s business days or more", n=3),
}
DEFAULT_BAND = "1_day"


def band(p80_seconds: float | None, answered: int, day_seconds: float) -> str:
    """The band (a key of BANDS) that the 80th percentile rounds up to; the default below 20."""
    if p80_seconds is None or answered < MIN_ANSWERED:
        return DEFAULT_BAND
    if p80_seconds <= 2 * HOUR:
        return "2_hours"
    if p80_seconds <= day_seconds / 2:
        return "same_day"
    if p80_seconds <= day_seconds:
        return "1_day"
    if p80_seconds <= 2 * day_seconds:
        return "2_days"
    return "3_days"


def measured_band(session: SessionLike, practice: Practice, now: datetime) -> str:
    """The band of the requests first answered in the 30 days before ``now``."""
    with session.no_autoflush:  # read inside a patient's unsaved submission: leave it unsent
        values = sorted(
            seconds
            for seconds in session.scalars(
                select(Submission.response_seconds).where(
                    Submission.first_response_at >= now - WINDOW,
                    Submission.response_seconds.is_not(None),
                )
            )
            if seconds is not None
        )
    return band(percentile(values, PERCENTILE), len(values), practice.business_day_seconds)


def current_band() -> str:
    """This process's band, measured again when older than CACHE_SECONDS.

    A database that cannot answer leaves the promise at the default: the patient's form goes on
    to its own commit, which says whether it was stored (no rollback here: the submission is
    in the same session, not yet written).
    """
    cache = current_app.extensions.setdefault("promise", {})
    if clock.monotonic() - cache.get("at", -math.inf) > CACHE_SECONDS:
        practice: Practice = current_app.extensions["practice"]
        try:
            cache["band"] = measured_band(db.session, practice, utcnow())
        except SQLAlchemyError:
            log.warning("response-time promise: the database did not answer; using the default")
            return cache.get("band", DEFAULT_BAND)
        cache["at"] = clock.monotonic()
    return str(cache["band"])


def usual_answer() -> str:
    """The patient's sentence in their language: "We usually answer within 1 business day."."""
    return gettext("We usually answer %(when)s.", when=BANDS[current_band()])


def closed_now(practice: Practice, now: datetime) -> str | None:
    """ "We are closed now. We open again Monday at 7 am." outside opening hours, else None.

    Only with structured hours: free text says nothing a program can read.
    """
    hours = practice.opening_hours
    if hours is None:
        return None
    opens = hours.next_opening(now, practice.zone)
    if opens is None:
        return None
    local = opens.astimezone(practice.zone)
    today = now.astimezone(practice.zone).date()
    if local.date() == today:
        day = gettext("today")
    elif local.date() == today + timedelta(days=1):
        day = gettext("tomorrow")
    elif local.date() < today + timedelta(days=7):
        # The weekday in the patient's language, with what the sentence needs before it
        # (Spanish: "el lunes"; English and Portuguese: the weekday alone).
        day = pgettext("a weekday", "%(weekday)s", weekday=format_date(local.date(), "EEEE"))
    else:  # past a week of closed days and holidays, the weekday alone would mislead
        day = gettext("on %(date)s", date=format_date(local.date(), "MMMM d"))
    return gettext(
        "We are closed now. We open again %(day)s at %(time)s.",
        day=day,
        time=clock_text(local.time()),
    )
