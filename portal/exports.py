"""Exports of submissions as CSV, Excel (XLSX) or JSON: pure writers over rows, no Flask inside.

Rows are read in batches by keyset pagination (``WHERE id > last ORDER BY id LIMIT n``) and each
writer yields its output in chunks, so memory stays flat however many rows there are. Times are
ISO 8601 in the practice's time zone with its UTC offset; date filters are the practice's local
days, inclusive, so a range across a daylight-saving change covers exactly those days.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import aliased

from . import fhir
from .export_rows import export_columns, export_formatter
from .extensions import SessionLike
from .models import Submission, User
from .practice import Practice
from .submissions import KINDS

# Defined with the vocabulary, importable from here as before (writers take Columns).
from .export_rows import Column as Column  # isort: skip
from .submissions import display_phone as display_phone  # isort: skip

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    # FHIR Bulk Data's type: one FHIR Bundle per line (see write_ndjson).
    "ndjson": "application/fhir+ndjson",
}
# The kinds an export can be limited to (their labels live in submissions.py).
FORMS = KINDS

# A spreadsheet reads a cell starting with one of these as a formula (ASVS 5.0 1.2.10); the
# full-width forms too, since some spreadsheets fold them to their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
FORMULA_CHARS = "=+-@\uff1d\uff0b\uff0d\uff20"
# Quoting keeps "ZZF;=1+1" one cell only for a reader that honours the quotes and uses the
# comma; a spreadsheet told to split at ";" or TAB (or at line breaks) starts a cell at "=1+1".
# A formula character right after any of those separators gets the apostrophe too.
FORMULA_AFTER_SEPARATOR = re.compile(f"([;\t,\r\n])([{re.escape(FORMULA_CHARS)}])")
UTF8_BOM = "\ufeff"
CHUNK_ROWS = 500


@dataclass(frozen=True)
class Filters:
    """What to export: one form or both, practice-local dates (inclusive), one status or all."""

    form: str | None = None
    since: date | None = None
    until: date | None = None
    status: str | None = None

    def describe(self) -> dict[str, str | None]:
        """The filters as plain values, for the audit trail."""
        return {
            "form": self.form,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "status": self.status,
        }


def columns_for(form: str | None) -> list[Column]:
    """The columns of an export of one form (its own fields only) or of both."""
    return export_columns(form)


def local_day_bounds(
    since: date | None, until: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """UTC instants [start, end) covering the practice-local days since..until, inclusive."""
    start = datetime.combine(since, time.min, tzinfo=zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone) if until else None
    return start, end


def filter_clauses(filters: Filters, zone: ZoneInfo) -> list[ColumnElement[bool]]:
    """SQL conditions for these filters."""
    clauses: list[ColumnElement[bool]] = []
    if filters.form:
        clauses.append(Submission.form == filters.form)
    if filters.status:
        clauses.append(Submission.status == filters.status)
    start, end = local_day_bounds(filters.since, filters.until, zone)
    if start is not None:
        clauses.append(Submission.created_at >= start)
    if end is not None:
        clauses.append(Submission.created_at < end)
    return clauses


def fetch_rows(
    session: SessionLike, clauses: Sequence[ColumnElement[bool]], batch_size: int = 1000
) -> Iterator[Row[Any]]:
    """Every matching submission, oldest first, read batch_size rows per query (keyset paging).

    Plain rows rather than ORM objects: nothing accumulates in the session's identity map.
    """
    # The kind as well as the column it is stored in (form): fhir.py reads submission.kind.
    table_columns = [*Submission.__table__.columns, Submission.__table__.c.form.label("kind")]
    # The staff accounts' emails, joined by primary key: the export names people, not ids.
    assignee, responder = aliased(User), aliased(User)
    staff_columns = [
        assignee.email.label("assigned_to_email"),
        responder.email.label("first_response_by_email"),
    ]
    last_id = 0
    while True:
        batch = session.execute(
            select(*table_columns, *staff_columns)
            .outerjoin(assignee, Submission.assigned_to_id == assignee.id)
            .outerjoin(responder, Submission.first_response_by_id == responder.id)
            .where(*clauses, Submission.id > last_id)
            .order_by(Submission.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
        if len(batch) < batch_size:
            return


def records(rows: Iterable[Any], zone: ZoneInfo) -> Iterator[dict[str, str]]:
    """Each row as plain text per column key (export_rows.export_formatter), lazily."""
    record = export_formatter(zone)
    for row in rows:
        yield record(row)


def neutralise(value: str) -> str:
    """Make text a spreadsheet would run as a formula show as text (an apostrophe before it).

    At the start of the value, and after every ";", TAB, "," or line break inside it, since a
    spreadsheet opened with another separator starts a cell there.
    """
    # search() first: most values hold no such separator, and sub() with a template costs a
    # Python-level call per value even when nothing matches (a third of a CSV export's time).
    if FORMULA_AFTER_SEPARATOR.search(value):
        value = FORMULA_AFTER_SEPARATOR.sub(r"\1'\2", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(items: Iterable[dict[str, str]], columns: Sequence[Column]) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel then reads accents right), every field quoted, CRLF endings."""
    buffer = io.StringIO()
    # Every field quoted (RFC 4180 allows it): a value is one cell whatever it holds.
    writer = csv.writer(buffer, dialect="excel", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    buffer.write(UTF8_BOM)
    writer.writerow([c.header for c in columns])
    for count, item in enumerate(items, 1):
        writer.writerow([neutralise(item[c.key]) for c in columns])
        if count % CHUNK_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    chunk = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return chunk


def write_json(items: Iterable[dict[str, str]], columns: Sequence[Column]) -> Iterator[bytes]:
    """A JSON array of objects keyed by column key, written one object at a time."""
    keys = [c.key for c in columns]
    yield b"["
    separator = b"\n"
    for item in items:
        yield separator + json.dumps({k: item[k] for k in keys}, ensure_ascii=False).encode()
        separator = b",\n"
    yield b"\n]\n"


def write_xlsx(
    items: Iterable[dict[str, str]], columns: Sequence[Column], chunk_size: int = 64 * 1024
) -> Iterator[bytes]:
    """An Excel workbook in openpyxl's write-only mode, every cell a text cell.

    Write-only mode spools rows to a temporary file as they come, so memory stays flat; the
    finished workbook is then read back in chunks.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Submissions")
    sheet.append([_text_cell(sheet, c.header) for c in columns])
    for item in items:
        sheet.append([_text_cell(sheet, item[c.key]) for c in columns])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(chunk_size):
            yield chunk


def _text_cell(sheet: Any, value: str) -> str | Cell:
    # openpyxl stores a plain str as text, except one starting with "=", which it would write
    # as a formula: that one gets a cell whose type is forced to text.
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def write_ndjson(rows: Iterable[Any], base_url: str, practice: Practice) -> Iterator[bytes]:
    """FHIR NDJSON: one FHIR R4 Bundle per submission, one per line (from rows, not records)."""
    lines: list[bytes] = []
    for row in rows:
        bundle = fhir.bundle(row, base_url, practice)
        lines.append(json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode())
        if len(lines) == CHUNK_ROWS:
            yield b"\n".join(lines) + b"\n"
            lines = []
    if lines:
        yield b"\n".join(lines) + b"\n"


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "json": write_json}


def export(
    session: SessionLike,
    filters: Filters,
    fmt: str,
    zone: ZoneInfo,
    *,
    upper_id: int | None = None,
    batch_size: int = 1000,
    base_url: str = "",
    practice: Practice | None = None,
) -> Iterator[bytes]:
    """The whole export in chunks; rows above upper_id (stored after the count) are left out.

    ndjson (FHIR) needs base_url (the identifiers' system) and the practice profile.
    """
    clauses = filter_clauses(filters, zone)
    if upper_id is not None:
        clauses.append(Submission.id <= upper_id)
    rows = fetch_rows(session, clauses, batch_size)
    if fmt == "ndjson":
        return write_ndjson(rows, base_url, practice or Practice())
    return WRITERS[fmt](records(rows, zone), columns_for(filters.form))


def snapshot(session: SessionLike, filters: Filters, zone: ZoneInfo) -> tuple[int, int]:
    """How many rows the export holds, and the highest id it may include (for export(upper_id))."""
    upper_id = session.scalar(select(func.max(Submission.id))) or 0
    count = session.scalar(
        select(func.count())
        .select_from(Submission)
        .where(*filter_clauses(filters, zone), Submission.id <= upper_id)
    )
    return count or 0, upper_id


def filename(filters: Filters, fmt: str, today: date) -> str:
    """A dated file name such as submissions-appointment-2026-03-09.csv."""
    return f"submissions-{filters.form or 'all'}-{today.isoformat()}.{fmt}"
