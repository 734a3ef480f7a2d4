"""Durable SQLite: every connection in WAL mode with synchronous=FULL and foreign keys on.

With synchronous=FULL a commit is on disk before it returns, so a submission the patient saw
acknowledged survives a power cut, not only a crashed process. PostgreSQL is durable by default.
"""

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


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
