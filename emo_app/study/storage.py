"""The study's SQL: one small function per query, each on an open connection from
``emo_app.study.db`` (the caller's unit of work decides read or write). Rows come back as the
model's dataclasses; a broken constraint raises ``sqlite3.IntegrityError`` for the study service
to word. No access checks here: ``emo_app.study.service`` does those."""

from __future__ import annotations

import sqlite3
from typing import Any

from emo_app.emotion.space import EmotionPoint
from emo_app.study.model import Item, Rater, Study, Vote
from emo_app.study.results import item_class

Connection = sqlite3.Connection


# ----------------------------------------------------------------------------- admin tokens
def insert_admin_token(conn: Connection, token_hash: str, label: str) -> None:
    conn.execute("INSERT INTO admin_tokens (token_hash, label) VALUES (?, ?)", (token_hash, label))


def admin_token_hashes(conn: Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT token_hash FROM admin_tokens")]


def has_admin_token(conn: Connection) -> bool:
    return conn.execute("SELECT 1 FROM admin_tokens LIMIT 1").fetchone() is not None


# ----------------------------------------------------------------------------- studies
def find_study(conn: Connection, study: int | str | Study) -> Study | None:
    """A study by id, name or itself; None when there is none."""
    if isinstance(study, Study):
        study = study.id
    if isinstance(study, int) and not isinstance(study, bool):
        row = conn.execute("SELECT * FROM studies WHERE id = ?", (study,)).fetchone()
    else:
        row = conn.execute("SELECT * FROM studies WHERE name = ?", (str(study or "").strip(),)).fetchone()
    return None if row is None else Study.from_row(row)


def all_studies(conn: Connection) -> list[Study]:
    return [Study.from_row(r) for r in conn.execute("SELECT * FROM studies ORDER BY id")]


def insert_study(conn: Connection, name: str, description: str, open_enrollment: bool) -> int:
    cursor = conn.execute("INSERT INTO studies (name, description, open_enrollment) VALUES (?, ?, ?)",
                          (name, description, int(open_enrollment)))
    return int(cursor.lastrowid)


def study_counts(conn: Connection) -> list[dict[str, Any]]:
    """Each study's name with its item, rater and vote counts."""
    return [dict(r) for r in conn.execute(
        "SELECT s.name AS study, (SELECT COUNT(*) FROM items i WHERE i.study_id = s.id) AS items, "
        "(SELECT COUNT(*) FROM raters r WHERE r.study_id = s.id) AS raters, "
        "(SELECT COUNT(*) FROM votes v JOIN items i ON i.id = v.item_id WHERE i.study_id = s.id) "
        "AS votes FROM studies s ORDER BY s.id")]


# ----------------------------------------------------------------------------- items
def insert_item(conn: Connection, study_id: int, model: str, part: int, position: int,
                point: EmotionPoint, image_path: str | None, point_id: int | None) -> None:
    conn.execute(
        "INSERT INTO items (study_id, model, part, position, point_id, valence, arousal, z, "
        "nearest_class, image_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (study_id, model, part, position, point_id, point.valence, point.arousal, point.z,
         item_class(model, point), image_path),
    )


def item_layout(conn: Connection, study_id: int) -> dict[str, dict[int, int]]:
    """model -> part -> number of items."""
    layout: dict[str, dict[int, int]] = {}
    for r in conn.execute("SELECT model, part, COUNT(*) AS n FROM items WHERE study_id = ? "
                          "GROUP BY model, part ORDER BY model, part", (study_id,)):
        layout.setdefault(r["model"], {})[int(r["part"])] = int(r["n"])
    return layout


def find_item(conn: Connection, study_id: int, model: str, part: int, position: int) -> Item | None:
    row = conn.execute("SELECT * FROM items WHERE study_id = ? AND model = ? AND part = ? AND position = ?",
                       (study_id, model, int(part), int(position))).fetchone()
    return None if row is None else Item.from_row(row)


def study_items(conn: Connection, study_id: int, model: str | None = None) -> list[Item]:
    """The study's items (of one model), 3D before 2D, in part and position order."""
    query, args = "SELECT * FROM items WHERE study_id = ?", [study_id]
    if model is not None:
        query += " AND model = ?"
        args.append(model)
    return [Item.from_row(r) for r in conn.execute(query + " ORDER BY model DESC, part, position", args)]


def item_in_study(conn: Connection, study_id: int, item_id: int) -> bool:
    return conn.execute("SELECT 1 FROM items WHERE id = ? AND study_id = ?",
                        (int(item_id), study_id)).fetchone() is not None


def item_classes(conn: Connection, study_id: int) -> dict[tuple[str, int], str]:
    """(model, item id) -> the item's nearest class."""
    return {(r["model"], r["id"]): r["nearest_class"] for r in conn.execute(
        "SELECT id, model, nearest_class FROM items WHERE study_id = ?", (study_id,))}


# ----------------------------------------------------------------------------- raters
def insert_rater(conn: Connection, study_id: int, name: str, token_hash: str) -> Rater:
    cursor = conn.execute("INSERT INTO raters (study_id, name, token_hash) VALUES (?, ?, ?)",
                          (study_id, name, token_hash))
    return Rater.from_row(conn.execute("SELECT * FROM raters WHERE id = ?", (cursor.lastrowid,)).fetchone())


def find_rater(conn: Connection, study_id: int, token_hash: str) -> Rater | None:
    row = conn.execute("SELECT * FROM raters WHERE study_id = ? AND token_hash = ?",
                       (study_id, token_hash)).fetchone()
    return None if row is None else Rater.from_row(row)


# ----------------------------------------------------------------------------- votes
def insert_vote(conn: Connection, item_id: int, rater_id: int, score: int) -> Vote:
    cursor = conn.execute("INSERT INTO votes (item_id, rater_id, score) VALUES (?, ?, ?)",
                          (int(item_id), rater_id, score))
    return Vote.from_row(conn.execute("SELECT * FROM votes WHERE id = ?", (cursor.lastrowid,)).fetchone())


def update_vote(conn: Connection, item_id: int, rater_id: int, score: int) -> Vote | None:
    """The rater's vote on the item with its new score; None when they had not voted."""
    updated = conn.execute(
        "UPDATE votes SET score = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
        "WHERE item_id = ? AND rater_id = ?", (score, int(item_id), rater_id))
    if updated.rowcount != 1:
        return None
    return Vote.from_row(conn.execute("SELECT * FROM votes WHERE item_id = ? AND rater_id = ?",
                                      (int(item_id), rater_id)).fetchone())


def rater_votes(conn: Connection, rater_id: int) -> dict[int, int]:
    """item id -> score."""
    return {int(r[0]): int(r[1]) for r in conn.execute(
        "SELECT item_id, score FROM votes WHERE rater_id = ?", (rater_id,))}


def rater_progress(conn: Connection, study_id: int, rater_id: int) -> dict[str, dict[int, tuple[int, int]]]:
    """model -> part -> (rated by the rater, items)."""
    progress: dict[str, dict[int, tuple[int, int]]] = {}
    for r in conn.execute(
        "SELECT i.model, i.part, COUNT(*) AS n, COUNT(v.id) AS done FROM items i LEFT JOIN votes v "
        "ON v.item_id = i.id AND v.rater_id = ? WHERE i.study_id = ? GROUP BY i.model, i.part",
        (rater_id, study_id),
    ):
        progress.setdefault(r["model"], {})[int(r["part"])] = (int(r["done"]), int(r["n"]))
    return progress


def vote_rows(conn: Connection, study_id: int) -> list[sqlite3.Row]:
    """Every vote of the study with its item and rater, in vote order."""
    return conn.execute(
        "SELECT v.id AS vote_id, i.id AS item_id, i.model, i.part, i.position, i.point_id, i.valence, "
        "i.arousal, i.z, i.nearest_class, i.image_path, r.name AS rater, v.score, v.created_at, "
        "v.updated_at FROM votes v JOIN items i ON i.id = v.item_id JOIN raters r ON r.id = v.rater_id "
        "WHERE i.study_id = ? ORDER BY v.id", (study_id,)).fetchall()
