"""Durable, private SQLite: WAL mode, synchronous=FULL, foreign keys on, owner-only files;
and the cheap write of a patient's submission (Core INSERTs, one SQLite writer at a time).

With synchronous=FULL a commit is on disk before it returns, so a submission the patient saw
acknowledged survives a power cut, not only a crashed process. PostgreSQL is durable by default.
"""

import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.engine import Dialect, Engine

from .extensions import SessionLike
from .storage import create_private_file


@event.listens_for(Engine, "do_connect")
def create_sqlite_file_owner_only(
    dialect: Dialect, connection_record: object, cargs: list[Any], cparams: dict[str, Any]
) -> None:
    """Create a missing SQLite database file 0600 before SQLite opens it.

    SQLite would create it 0644 (less the umask), and gives its -wal and -shm files the mode of
    the database file: an owner-only database file makes all three owner-only.
    """
    if dialect.name != "sqlite" or not cargs or cparams.get("uri"):
        return
    filename = str(cargs[0])
    if filename in ("", ":memory:"):
        return
    try:
        create_private_file(Path(filename))
    except OSError:
        pass  # a missing folder, say: SQLite reports it in its own words when it connects


@event.listens_for(Engine, "connect")
def configure_sqlite(dbapi_connection: object, connection_record: object) -> None:
    """Set the durability pragmas on each new SQLite connection."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def insert_rows(session: SessionLike, objects: Iterable[Any]) -> None:
    """Write new model objects with one Core INSERT per table, in the session's transaction.

    For rows written once and never read back in the request (a submission and its outbox
    messages), the ORM's unit of work (identity map, dependency sort, one INSERT per row
    returning its key) cost a sixth of a patient's POST. The rows are written in the order
    given, with the columns' defaults for what was not set; objects the session holds are
    taken out of it, so its commit does not write them a second time.
    """
    batches: list[tuple[Table, list[dict[str, Any]]]] = []
    for obj in objects:
        state = inspect(obj)
        if state.session_id is not None:
            session.expunge(obj)
        values = {
            prop.columns[0].key: state.dict[prop.key]
            for prop in state.mapper.column_attrs
            if prop.key in state.dict
        }
        table = state.mapper.local_table
        last = batches[-1] if batches else None
        if last and last[0] is table and last[1][0].keys() == values.keys():
            last[1].append(values)
        else:
            batches.append((table, [values]))
    connection = session.connection()
    for table, rows in batches:
        connection.execute(insert(table), rows)


# The lock file of each SQLite database this process writes to, opened once (per process: a
# descriptor inherited across fork would share its lock with the parent).
_writer_locks: dict[tuple[int, str], int] = {}


@contextmanager
def one_writer_at_a_time(session: SessionLike) -> Iterator[None]:
    """On a SQLite file, hold an exclusive lock on ``<database>-writer`` while writing.

    SQLite lets one process write at a time, and a writer that finds the database locked waits
    in its busy handler, which sleeps 1, 2, 5, 10, 25... ms between tries rather than waking
    when the lock frees: the tail of the POST's latency under load. Writers that take this lock
    first wait in the kernel instead and wake as soon as the previous one has committed. Only
    the patients' POSTs take it; other writers still meet SQLite's own lock as before.
    """
    url = session.get_bind().engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        yield
        return
    descriptor = _writer_lock(f"{url.database}-writer")
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def _writer_lock(path: str) -> int:
    key = (os.getpid(), path)
    if key not in _writer_locks:
        create_private_file(Path(path))
        _writer_locks[key] = os.open(path, os.O_RDWR)
    return _writer_locks[key]
