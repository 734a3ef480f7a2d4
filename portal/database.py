"""Durable, private SQLite: WAL mode, synchronous=FULL, foreign keys on, owner-only files.

With synchronous=FULL a commit is on disk before it returns, so a submission the patient saw
acknowledged survives a power cut, not only a crashed process. PostgreSQL is durable by default.
"""

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine

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
