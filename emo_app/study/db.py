"""SQLite storage for rating studies: WAL mode, a schema version table and forward migrations.

Why SQLite: one file, no server, atomic commits that survive a killed process. WAL lets raters
read while another rater's vote is being written; ``synchronous=FULL`` makes a commit durable
before we tell the rater it is saved. A connection is opened per operation (cheap for SQLite)
so Gradio's worker threads never share one.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emo_app.config import Settings
from emo_app.errors import EmoAppError

DB_ENV_VAR = "EMO_STUDY_DB"
BUSY_TIMEOUT_S = 30.0

# (version, SQL) applied in order; never edit a released entry, append a new one.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE admin_tokens (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE studies (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            open_enrollment INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
            model TEXT NOT NULL CHECK (model IN ('2d', '3d')),
            part INTEGER NOT NULL CHECK (part >= 1),
            position INTEGER NOT NULL CHECK (position >= 1),
            point_id INTEGER,
            valence REAL NOT NULL,
            arousal REAL NOT NULL,
            z REAL NOT NULL,
            nearest_class TEXT NOT NULL,
            image_path TEXT,
            UNIQUE (study_id, model, part, position)
        );
        CREATE TABLE raters (
            id INTEGER PRIMARY KEY,
            study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            UNIQUE (study_id, name)
        );
        CREATE TABLE votes (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            rater_id INTEGER NOT NULL REFERENCES raters(id) ON DELETE CASCADE,
            score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            UNIQUE (item_id, rater_id)
        );
        CREATE INDEX votes_by_rater ON votes (rater_id);
        CREATE INDEX items_by_study ON items (study_id, model, part);
        """,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class StudyDatabaseError(EmoAppError):
    """The study database cannot be used as it is (newer schema, not a database)."""


def default_db_path(settings: Settings | None = None) -> Path:
    """EMO_STUDY_DB if set, else ``<data_dir>/study.sqlite3``."""
    override = os.environ.get(DB_ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    return (settings or Settings.from_env()).data_dir / "study.sqlite3"


class StudyDB:
    """A study database file; opens a fresh connection for each unit of work."""

    _migrated: set[str] = set()
    _migrate_lock = threading.Lock()

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()

    def __repr__(self) -> str:
        return f"StudyDB({str(self.path)!r})"

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StudyDatabaseError(
                f"{self.path} is not a usable SQLite database ({exc}); point EMO_STUDY_DB at "
                "another file."
            ) from exc
        if str(mode).lower() != "wal":
            conn.close()
            raise StudyDatabaseError(f"{self.path} could not be switched to WAL mode (got {mode}).")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        return conn

    def migrate(self) -> int:
        """Bring the schema up to ``SCHEMA_VERSION``; returns the version now in the file."""
        conn = self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")  # one migrator at a time, across processes
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
            )
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0] or 0)
            if current > SCHEMA_VERSION:
                conn.execute("ROLLBACK")
                raise StudyDatabaseError(
                    f"{self.path} has schema version {current}, newer than this app's "
                    f"{SCHEMA_VERSION}; upgrade Emotion Studio or use another EMO_STUDY_DB."
                )
            for version, sql in MIGRATIONS:
                if version > current:
                    for statement in (s.strip() for s in sql.split(";")):
                        if statement:
                            conn.execute(statement)
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                    current = version
            conn.execute("COMMIT")
            return current
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _ensure_migrated(self) -> None:
        key = str(self.path.resolve())
        if key in self._migrated and self.path.exists():
            return
        with self._migrate_lock:
            self.migrate()
            self._migrated.add(key)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (WAL: a consistent snapshot per statement)."""
        self._ensure_migrated()
        conn = self._open()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): committed durably when the block exits."""
        self._ensure_migrated()
        conn = self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    def integrity_check(self) -> str:
        """'ok' when SQLite finds the file sound."""
        with self.read() as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def as_db(db: StudyDB | str | os.PathLike[str] | None) -> StudyDB:
    """Accept a StudyDB, a path, or None (the default path)."""
    return db if isinstance(db, StudyDB) else StudyDB(db)
