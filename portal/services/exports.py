"""Starting an export: the filters and format an actor chose become an audited stream of bytes.

The download on the Export page and ``flask --app portal export`` both start here: the rows are
counted and the audit record (with that count) is committed before the first row is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app

from .. import exports
from ..extensions import SessionLike
from .actions import Actor, staff_action


@dataclass(frozen=True)
class Export:
    """A started export: how many submissions it holds, and its bytes (read lazily)."""

    rows: int
    chunks: Iterator[bytes]


def start(
    session: SessionLike,
    actor: Actor,
    filters: exports.Filters,
    fmt: str,
    *,
    file: str | None = None,
) -> Export:
    """Count, audit and commit the export, then return its stream (FORMATS gives fmt's type)."""
    if fmt not in exports.FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    practice = current_app.extensions["practice"]
    count, upper_id = exports.snapshot(session, filters, practice.zone)
    detail = {**filters.describe(), "format": fmt, "rows": count}
    if file is not None:
        detail["file"] = file
    with staff_action(session, actor, "export", detail=detail):
        pass  # the audit record alone: an export changes nothing, it tells who took what
    chunks = exports.export(
        session,
        filters,
        fmt,
        practice.zone,
        upper_id=upper_id,
        batch_size=current_app.config["EXPORT_BATCH_SIZE"],
        base_url=current_app.config["PUBLIC_BASE_URL"],
        practice=practice,
    )
    return Export(rows=count, chunks=chunks)
