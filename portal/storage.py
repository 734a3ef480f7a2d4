"""Files and folders that hold patient data: created readable by their owner only.

The instance folder, the mail folder, the SQLite database (and the ``-wal``/``-shm`` files SQLite
creates beside it with the database's own mode) get 0700 or 0600 whatever the process's umask:
the mode is set explicitly after creating, since a umask can only take bits away.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
# Group and others: any of these bits on patient data is worth a warning.
SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


def private_folder(path: Path) -> Path:
    """Create the folder (and missing parents) owner-only; an existing folder is left as it is."""
    if not path.is_dir():
        path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        os.chmod(path, PRIVATE_FOLDER)
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty owner-only file unless something is already there; True if created."""
    try:
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE
        )
    except FileExistsError:
        return False
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)
    return True


def shared_files(paths: list[Path]) -> list[Path]:
    """Those of the paths that exist and that other users may read or write."""
    found = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if mode & SHARED_BITS:
            found.append(path)
    return found


def warn_if_shared(database: Path, logger: logging.Logger) -> None:
    """Warn at start when an existing SQLite database (or its -wal/-shm) is open to others."""
    candidates = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
    for path in shared_files(candidates):
        logger.warning(
            "%s holds patient data and other users may read it (mode %o): chmod 600 it",
            path,
            stat.S_IMODE(path.stat().st_mode),
        )


def write_private_file(path: Path, chunks: Iterable[bytes], *, replace: bool) -> None:
    """Write patient data to a file of mode 0600 that nobody else had a handle on.

    A new file is created exclusively (O_EXCL: never an existing file, never through a link).
    With replace, the data goes to a new file beside it that is then renamed over the old name:
    a symbolic link there is replaced itself, and its target is never written. Without replace,
    an existing name raises FileExistsError.
    """
    if replace:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    else:
        # O_EXCL: FileExistsError for any name already there (a link too), nothing written.
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE
        )
        temporary = None
    try:
        os.fchmod(descriptor, PRIVATE_FILE)  # whatever the umask
        with os.fdopen(descriptor, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        if temporary is not None:
            os.replace(temporary, path)
    except BaseException:
        Path(temporary or path).unlink(missing_ok=True)
        raise
