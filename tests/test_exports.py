"""Exports: CSV (BOM, RFC 4180, formulas neutralised), XLSX (every cell text), JSON (an array),
streamed in batches, dated attachments, practice-local date filters across DST, and audited."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from portal import exports
from portal.extensions import db

from .admin_helpers import (
    ADMIN,
    STAFF,
    XSS,
    add_submission,
    audit_events,
    make_user,
    sign_in,
)

BOSTON = ZoneInfo("America/New_York")
INJECTIONS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
    "\n=1",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(1)",
]


@pytest.fixture
def admin(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


# --- The writers, on their own ------------------------------------------------------------------


# A line break or TAB is a separator too: what follows it gets its own apostrophe.
NEUTRALISED = {"\t=1": "'\t'=1", "\r=1": "'\r'=1", "\n=1": "'\n'=1"}


def neutralised(value: str) -> str:
    """How the CSV export writes an injection payload."""
    return NEUTRALISED.get(value, "'" + value)


@pytest.mark.parametrize("value", INJECTIONS)
def test_csv_neutralises_every_formula_start(value):
    assert exports.neutralise(value) == neutralised(value)
    assert exports.neutralise(value).startswith("'")


@pytest.mark.parametrize("value", ["Siobhán", "O'Hara", "(617) 253-1000", "1+1", "a=b", ""])
def test_csv_leaves_ordinary_text_alone(value):
    assert exports.neutralise(value) == value


def test_csv_is_utf8_with_bom_rfc4180_quoted_with_crlf():
    columns = [exports.Column("a", "Name"), exports.Column("b", "Message")]
    items = [{"a": "Nguyễn, Văn", "b": 'He said "hi"\nthen left'}]
    data = b"".join(exports.write_csv(items, columns))
    assert data == (
        b'\xef\xbb\xbf"Name","Message"\r\n'
        + '"Nguyễn, Văn","He said ""hi""\nthen left"\r\n'.encode()
    )


SEPARATED_FORMULAS = [
    "ZZF;=1+1",
    "ZZF;+1+1",
    "ZZF;-1+1",
    "ZZF;@SUM(A1)",
    "ZZF\t=1+1",
    "ZZF,=1+1",
    "ZZF\n=1+1",
    "ZZF\r\n@SUM(A1)",
    "ZZF;＝1+1",
    "ZZF\t＋1",
    "a;b;=c",
]


def all_cells(text: str, delimiter: str, quoting: int) -> list[str]:
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    return [cell for row in rows for cell in row]


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_csv_read_with_another_separator_has_no_formula_cell(delimiter):
    columns = [exports.Column("a", "Name"), exports.Column("b", "Message")]
    items = [{"a": value, "b": "ok"} for value in [*SEPARATED_FORMULAS, *INJECTIONS]]
    text = b"".join(exports.write_csv(items, columns)).decode("utf-8-sig")
    # As a spreadsheet reads it with the quotes honoured, and with the quotes taken as text.
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_NONE):
        cells = all_cells(text, delimiter, quoting)
        assert len(cells) > len(items)  # every row was read
        for cell in cells:
            for candidate in (cell, cell.lstrip('"')):
                assert not candidate.startswith(exports.FORMULA_CHARS), (quoting, cell)
    # The value itself is kept, with only the apostrophes added.
    assert "ZZF;'=1+1" in text


def test_csv_quotes_every_field():
    columns = [exports.Column("a", "Name"), exports.Column("b", "Message")]
    data = b"".join(exports.write_csv([{"a": "Plain", "b": ""}], columns))
    assert data.decode("utf-8-sig").splitlines() == ['"Name","Message"', '"Plain",""']


def test_xlsx_cells_are_all_text_even_formulas():
    columns = [exports.Column("a", "Value")]
    items = [{"a": value} for value in [*INJECTIONS, "00123", "1980-03-27"]]
    data = b"".join(exports.write_xlsx(items, columns))
    workbook = load_workbook(io.BytesIO(data))
    cells = [row[0] for row in workbook.active.iter_rows(min_row=2)]
    # XML reads a lone CR as LF; what matters is that nothing became a formula.
    expected = [v.replace("\r", "\n") for v in [*INJECTIONS, "00123", "1980-03-27"]]
    assert [c.value for c in cells] == expected
    assert {c.data_type for c in cells} == {"s"}


@pytest.mark.parametrize(
    "e164", ["+16172531000", "+17812095645", "+14165550199", "+18095550100", "+442079460958"]
)
def test_phones_are_shown_as_phonenumbers_formats_them(e164):
    from portal.practice import format_phone

    assert exports.display_phone(e164) == format_phone(e164)


def test_json_is_one_array_of_objects():
    columns = [exports.Column("a", "A"), exports.Column("b", "B")]
    chunks = list(exports.write_json(({"a": str(n), "b": "é"} for n in range(3)), columns))
    assert len(chunks) > 3  # written object by object
    assert json.loads(b"".join(chunks)) == [{"a": str(n), "b": "é"} for n in range(3)]
    assert json.loads(b"".join(exports.write_json([], columns))) == []


def test_local_days_cover_exactly_23_hours_on_the_spring_change():
    start, end = exports.local_day_bounds(date(2026, 3, 8), date(2026, 3, 8), BOSTON)
    assert start.astimezone(UTC) == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    start, end = exports.local_day_bounds(date(2026, 11, 1), date(2026, 11, 1), BOSTON)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 25 * 3600


def test_columns_follow_the_form():
    appointment = [c.header for c in exports.columns_for("appointment")]
    assert "Name" not in appointment and "Topic" not in appointment and "Form" not in appointment
    assert appointment[-1] == "Reason for visit"
    contact = [c.header for c in exports.columns_for("contact")]
    assert contact == [
        "Reference",
        "Received",
        "Status",
        "Assigned to",
        "First response at",
        "First response by",
        "Response time (business hours)",
        "Name",
        "Phone number",
        "Email address",
        "Preferred language",
        "Topic",
        "Message",
    ]


# --- Through the staff area ---------------------------------------------------------------------


def test_csv_download_is_a_dated_no_store_attachment(app, admin):
    reference = add_submission(app, created_at=datetime(2026, 7, 4, 16, 5, tzinfo=UTC))
    response = admin.get("/admin/export.csv?form=appointment")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    today = datetime.now(BOSTON).date().isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="submissions-appointment-{today}.csv"'
    )
    [row] = read_csv(response.data)
    assert row["Reference"] == reference
    assert row["Received"] == "2026-07-04T12:05:00-04:00"
    assert row["First name"] == "Siobhán" and row["Last name"] == "O'Hara"
    assert row["Date of birth"] == "1980-03-27"
    assert row["Phone number"] == "(617) 253-1000"
    assert row["Status"] == "New" and row["How should we contact you?"] == "Phone"


def test_every_format_holds_the_same_rows(app, admin):
    for n in range(3):
        add_submission(app, first_name=f"Patient {n}")
    add_submission(app, form="contact")
    csv_rows = read_csv(admin.get("/admin/export.csv").data)
    json_rows = json.loads(admin.get("/admin/export.json").data)
    xlsx_rows = read_xlsx(admin.get("/admin/export.xlsx").data)
    assert len(csv_rows) == len(json_rows) == len(xlsx_rows) - 1 == 4
    assert [r["Reference"] for r in csv_rows] == [r["reference"] for r in json_rows]
    assert [r[0] for r in xlsx_rows[1:]] == [r["reference"] for r in json_rows]
    assert xlsx_rows[0][:4] == ["Reference", "Received", "Form", "Status"]
    assert admin.get("/admin/export.json").headers["Content-Type"] == "application/json"
    xlsx = admin.get("/admin/export.xlsx")
    assert xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert xlsx.headers["Content-Disposition"].endswith('.xlsx"')


def test_csv_injection_payloads_are_text_in_every_format(app, admin):
    for payload in INJECTIONS:
        add_submission(app, first_name=payload, insurance=payload, message=payload)
    csv_rows = read_csv(admin.get("/admin/export.csv?form=appointment").data)
    for row, payload in zip(csv_rows, INJECTIONS, strict=True):
        assert row["First name"] == neutralised(payload)
        assert row["Insurance provider"] == neutralised(payload)
        assert row["Reason for visit"] == neutralised(payload)
    xlsx = load_workbook(io.BytesIO(admin.get("/admin/export.xlsx?form=appointment").data))
    for row in xlsx.active.iter_rows(min_row=2):
        assert all(cell.data_type == "s" for cell in row if cell.value is not None)
    json_rows = json.loads(admin.get("/admin/export.json?form=appointment").data)
    assert [r["first_name"] for r in json_rows] == INJECTIONS


def test_xss_payloads_are_exported_as_plain_data(app, admin):
    add_submission(app, first_name=XSS, insurance=XSS, message=XSS, email=XSS)
    for fmt in ("csv", "json", "xlsx"):
        response = admin.get(f"/admin/export.{fmt}")
        assert "html" not in response.headers["Content-Type"]
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()  # a streamed response holds its request context until closed
    assert json.loads(admin.get("/admin/export.json").data)[0]["first_name"] == XSS
    assert read_csv(admin.get("/admin/export.csv").data)[0]["First name"] == XSS


def test_export_of_a_week_across_the_spring_dst_change(app, admin):
    """March 2 to 8, 2026 in Boston: the clocks go forward on the 8th."""
    inside = {
        "first minute": datetime(2026, 3, 2, 5, 0, tzinfo=UTC),  # 00:00 EST, March 2
        "before change": datetime(2026, 3, 8, 6, 59, tzinfo=UTC),  # 01:59 EST, March 8
        "after change": datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # 03:00 EDT, March 8
        "last minute": datetime(2026, 3, 9, 3, 59, tzinfo=UTC),  # 23:59 EDT, March 8
    }
    outside = {
        "day before": datetime(2026, 3, 2, 4, 59, tzinfo=UTC),  # 23:59 EST, March 1
        "day after": datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # 00:00 EDT, March 9
        # A fixed -05:00 offset would wrongly take this one (00:30 EDT, March 9).
        "fixed offset trap": datetime(2026, 3, 9, 4, 30, tzinfo=UTC),
    }
    references = {}
    for label, moment in {**inside, **outside}.items():
        references[label] = add_submission(app, created_at=moment)
    response = admin.get("/admin/export.csv?form=appointment&since=2026-03-02&until=2026-03-08")
    rows = read_csv(response.data)
    assert [r["Reference"] for r in rows] == [references[k] for k in inside]
    assert [r["Received"] for r in rows] == [
        "2026-03-02T00:00:00-05:00",
        "2026-03-08T01:59:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T23:59:00-04:00",
    ]
    [event] = audit_events(app, "export")
    assert event.detail == {
        "form": "appointment",
        "since": "2026-03-02",
        "until": "2026-03-08",
        "status": None,
        "format": "csv",
        "rows": 4,
    }


def test_status_filter(app, admin):
    add_submission(app)
    wanted = add_submission(app, status="scheduled")
    rows = json.loads(admin.get("/admin/export.json?status=scheduled").data)
    assert [r["reference"] for r in rows] == [wanted]


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-02-30",
        "until=08/03/2026",
        "form=other",
        "status=gone",
        "since=2026-03-09&until=2026-03-08",
    ],
)
def test_bad_query_parameters_are_400(app, admin, query):
    assert admin.get(f"/admin/export.csv?{query}").status_code == 400
    assert not audit_events(app, "export")


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "since=9999-12-31",
        "since=1899-12-31",
        "until=2101-01-01",
        "form=appointment%00",
        "status=new%1b",
    ],
)
def test_far_dates_and_control_characters_are_400_not_5xx(app, admin, query, caplog):
    add_submission(app)
    with caplog.at_level(logging.WARNING):
        assert admin.get(f"/admin/export.csv?{query}").status_code == 400
        assert admin.get(f"/admin/export?format=csv&{query}").status_code == 400
    assert not audit_events(app, "export")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_rows_are_read_in_batches(app, admin):
    app.config["EXPORT_BATCH_SIZE"] = 2
    for _ in range(5):
        add_submission(app)
    statements = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "LIMIT" in statement.upper():
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = read_csv(admin.get("/admin/export.csv").data)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(rows) == 5
    batch_queries = [s for s in statements if "submission.id >" in s]
    assert len(batch_queries) == 3  # 2 + 2 + 1


def test_export_page_leads_to_the_download(app, admin):
    page = admin.get("/admin/export").get_data(as_text=True)
    for label in ("Form", "Status", "Received from", "Received until", "Format"):
        assert f">{label}<" in page
    assert "Excel (XLSX)" in page and ">CSV<" in page and ">JSON<" in page
    response = admin.get(
        "/admin/export",
        query_string={
            "form": "appointment",
            "since": "2026-03-02",
            "until": "",
            "status": "",
            "format": "xlsx",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/export.xlsx?form=appointment&since=2026-03-02"
    bad = admin.get("/admin/export", query_string={"since": "tomorrow", "format": "csv"})
    assert bad.status_code == 422 and "There is a problem" in bad.get_data(as_text=True)


def test_staff_cannot_export(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    for url in ("/admin/export", "/admin/export.csv", "/admin/export.xlsx", "/admin/export.json"):
        assert client.get(url).status_code == 403
    assert not audit_events(app, "export")


def test_export_is_not_streamed_when_its_audit_record_cannot_be_written(app, admin):
    add_submission(app)
    with app.app_context():
        db.session.execute(db.text("DROP TABLE audit_event"))
        db.session.commit()
    response = admin.get("/admin/export.csv")
    assert response.status_code == 503
    assert b"Siob" not in response.data
