"""Everything a rating study does, as plain functions: create studies, enrol raters, vote,
aggregate, export, and the handlers the Study tab wraps (``ui_*``), so the UI, the CLI and tests
share one implementation.

Access model: admins hold tokens (stored as SHA-256 hashes, compared with
``hmac.compare_digest``; ``EMO_STUDY_ADMIN_TOKEN`` is also accepted) and alone see results and
exports. A rater is identified by a personal token (hashed too) carried in a link
``?study=NAME&rater=TOKEN``; raters only ever see their own votes. Each vote is its own
committed transaction, and the database's UNIQUE (item, rater) enforces one vote per item;
changing a vote is a separate, explicit update.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

from emo_app.emotion.space import EmotionPoint, nearest_classes
from emo_app.errors import EmoAppError, InvalidInputError
from emo_app.study.db import StudyDB, as_db
from emo_app.study.model import MAX_SCORE, MIN_SCORE, MODEL_LABELS, MODELS, Item, Rater, Study, Vote
from emo_app.study.points import PARTS, PER_PART, generate_study_points
from emo_app.study.results import StudyResults, VoteRecord, aggregate, item_class

ADMIN_ENV_VAR = "EMO_STUDY_ADMIN_TOKEN"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_NAME_CHARS = 80

PointRenderer = Callable[[EmotionPoint], Any]
DBLike = StudyDB | str | os.PathLike[str] | None


class StudyAccessError(EmoAppError, PermissionError):
    """A token was missing or wrong; nothing is revealed."""


class AlreadyVotedError(InvalidInputError):
    """The rater already rated this item; changing it is an explicit update."""


# ----------------------------------------------------------------------------- tokens


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def create_admin_token(db: DBLike = None, label: str = "") -> str:
    """A new admin token; only its hash is stored, so print it now or lose it."""
    token = _new_token()
    with as_db(db).write() as conn:
        conn.execute("INSERT INTO admin_tokens (token_hash, label) VALUES (?, ?)",
                     (_hash_token(token), str(label)[:MAX_NAME_CHARS]))
    return token


def check_admin(db: DBLike, token: str | None) -> None:
    """Raise StudyAccessError unless ``token`` is a stored admin token or EMO_STUDY_ADMIN_TOKEN."""
    denied = StudyAccessError("That admin token is not valid. Ask the study owner for one "
                              "(`python -m emo_app study admin-token` makes one).")
    if not isinstance(token, str) or not token.strip():
        raise denied
    given = _hash_token(token.strip())
    valid = False
    env_token = os.environ.get(ADMIN_ENV_VAR, "").strip()
    if env_token:
        valid |= hmac.compare_digest(given, _hash_token(env_token))
    with as_db(db).read() as conn:
        for (stored,) in conn.execute("SELECT token_hash FROM admin_tokens"):
            valid |= hmac.compare_digest(given, stored)
    if not valid:
        raise denied


# ----------------------------------------------------------------------------- studies


def _clean_name(name: Any, what: str) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise InvalidInputError(f"Enter a {what}.")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInputError(f"The {what} is longer than {MAX_NAME_CHARS} characters; shorten it.")
    return text


def _study_row(conn: sqlite3.Connection, study: int | str | Study) -> Study:
    if isinstance(study, Study):
        study = study.id
    if isinstance(study, int) and not isinstance(study, bool):
        row = conn.execute("SELECT * FROM studies WHERE id = ?", (study,)).fetchone()
    else:
        row = conn.execute("SELECT * FROM studies WHERE name = ?", (str(study or "").strip(),)).fetchone()
    if row is None:
        raise InvalidInputError(f"There is no study called '{study}'; pick one from the list.")
    return Study.from_row(row)


def list_studies(db: DBLike = None) -> list[Study]:
    """Study names are public (raters pick one); their votes and results are not."""
    with as_db(db).read() as conn:
        return [Study.from_row(r) for r in conn.execute("SELECT * FROM studies ORDER BY id")]


def get_study(db: DBLike, study: int | str) -> Study:
    with as_db(db).read() as conn:
        return _study_row(conn, study)


def _insert_study(conn: sqlite3.Connection, name: str, description: str, open_enrollment: bool) -> int:
    try:
        cursor = conn.execute(
            "INSERT INTO studies (name, description, open_enrollment) VALUES (?, ?, ?)",
            (name, description, int(open_enrollment)),
        )
    except sqlite3.IntegrityError as exc:
        raise InvalidInputError(f"A study called '{name}' already exists; choose another name.") from exc
    return int(cursor.lastrowid)


def _insert_item(conn: sqlite3.Connection, study_id: int, model: str, part: int, position: int,
                 point: EmotionPoint, image_path: str | None, point_id: int | None) -> None:
    conn.execute(
        "INSERT INTO items (study_id, model, part, position, point_id, valence, arousal, z, "
        "nearest_class, image_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (study_id, model, part, position, point_id, point.valence, point.arousal, point.z,
         item_class(model, point), image_path),
    )


def create_study_from_points(
    db: DBLike, admin_token: str, name: str, *, seed: int = 0, parts: int = PARTS,
    per_part: int = PER_PART, models: Sequence[str] = MODELS, description: str = "",
    open_enrollment: bool = True,
) -> Study:
    """The paper's design: ``parts`` x ``per_part`` generated points, once for the 3D model and
    once flattened (z = 0) for 2D; images are rendered on demand from each point."""
    check_admin(db, admin_token)
    name = _clean_name(name, "study name")
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise InvalidInputError(f"Models must be among {MODELS}; got {list(models)}.")
    points = generate_study_points(seed=int(seed), parts=int(parts), per_part=int(per_part))
    with as_db(db).write() as conn:
        study_id = _insert_study(conn, name, description or f"generated points, seed {seed}",
                                 open_enrollment)
        for model in models:
            for p in points:
                _insert_item(conn, study_id, model, p.part, p.position, p.point(model), None, p.id)
        return _study_row(conn, study_id)


def _read_points_csv(csv_path: Path) -> list[dict[str, str]]:
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = {h.strip().lower() for h in reader.fieldnames or []}
            missing = {"file", "valence", "arousal", "z"} - header
            if missing:
                raise InvalidInputError(
                    f"{csv_path.name} needs the columns file,valence,arousal,z (missing: "
                    f"{', '.join(sorted(missing))})."
                )
            rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"Cannot read the CSV file '{csv_path}': {exc}.") from exc
    if not rows:
        raise InvalidInputError(f"{csv_path.name} has no rows; add one line per image.")
    return rows


def create_study_from_folder(
    db: DBLike, admin_token: str, name: str, folder: str | os.PathLike[str],
    csv_path: str | os.PathLike[str] | None = None, *, model: str = "3d", per_part: int = PER_PART,
    description: str = "", open_enrollment: bool = True,
) -> Study:
    """Items from images in ``folder`` labelled by a CSV ``file,valence,arousal,z`` (optional
    ``model`` = 2d/3d and ``part`` columns); without ``part``, rows fill parts of ``per_part``
    in file order. ``csv_path`` defaults to the only .csv file in the folder."""
    check_admin(db, admin_token)
    name = _clean_name(name, "study name")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InvalidInputError(f"The image folder '{root}' does not exist.")
    root = root.resolve()
    if csv_path is None or str(csv_path).strip() == "":
        candidates = sorted(root.glob("*.csv"))
        if len(candidates) != 1:
            raise InvalidInputError(
                f"Found {len(candidates)} CSV files in '{root}'; name the one with file,valence,arousal,z."
            )
        csv_file = candidates[0]
    else:
        csv_file = Path(csv_path).expanduser()
    rows = _read_points_csv(csv_file)
    if model not in MODELS:
        raise InvalidInputError(f"model must be one of {MODELS}; got '{model}'.")
    if int(per_part) < 1:
        raise InvalidInputError("per_part must be at least 1.")
    counters: dict[tuple[str, int], int] = {}
    planned = []
    for line_no, row in enumerate(rows, start=2):
        image = (root / row["file"]).resolve()
        if not row["file"] or not image.is_relative_to(root):
            raise InvalidInputError(f"Line {line_no}: '{row['file']}' must be a file inside {root}.")
        if image.suffix.lower() not in IMAGE_SUFFIXES or not image.is_file():
            raise InvalidInputError(
                f"Line {line_no}: '{row['file']}' is not an image file in {root} "
                f"({', '.join(IMAGE_SUFFIXES)})."
            )
        try:
            point = EmotionPoint(row["valence"], row["arousal"], row["z"])
        except InvalidInputError as exc:
            raise InvalidInputError(f"Line {line_no}: {exc}") from exc
        item_model = (row.get("model") or model).lower()
        if item_model not in MODELS:
            raise InvalidInputError(f"Line {line_no}: model must be 2d or 3d; got '{row.get('model')}'.")
        if row.get("part"):
            if not row["part"].isdigit() or int(row["part"]) < 1:
                raise InvalidInputError(f"Line {line_no}: part must be a whole number >= 1.")
            part = int(row["part"])
        else:
            part = sum(1 for p in planned if p[0] == item_model) // int(per_part) + 1
        position = counters.get((item_model, part), 0) + 1
        counters[(item_model, part)] = position
        planned.append((item_model, part, position, point, str(image)))
    with as_db(db).write() as conn:
        study_id = _insert_study(conn, name, description or f"images from {root.name}", open_enrollment)
        for index, (item_model, part, position, point, image) in enumerate(planned):
            _insert_item(conn, study_id, item_model, part, position, point, image, index)
        return _study_row(conn, study_id)


# ----------------------------------------------------------------------------- raters


def _insert_rater(conn: sqlite3.Connection, study: Study, name: str) -> tuple[Rater, str]:
    token = _new_token()
    try:
        cursor = conn.execute("INSERT INTO raters (study_id, name, token_hash) VALUES (?, ?, ?)",
                              (study.id, name, _hash_token(token)))
    except sqlite3.IntegrityError as exc:
        raise InvalidInputError(
            f"The name '{name}' is already taken in this study; open your personal link (or "
            "enter your token), or choose another name."
        ) from exc
    row = conn.execute("SELECT * FROM raters WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return Rater.from_row(row), token


def add_rater(db: DBLike, admin_token: str, study: int | str, name: str) -> tuple[Rater, str]:
    """Admin enrols a rater; returns the rater and their token (shown once)."""
    check_admin(db, admin_token)
    name = _clean_name(name, "rater name")
    with as_db(db).write() as conn:
        return _insert_rater(conn, _study_row(conn, study), name)


def join_study(db: DBLike, study: int | str, name: str) -> tuple[Rater, str]:
    """A rater enrols themselves by name (studies with open enrolment); returns their token."""
    name = _clean_name(name, "name")
    with as_db(db).write() as conn:
        row = _study_row(conn, study)
        if not row.open_enrollment:
            raise StudyAccessError(f"Study '{row.name}' is by invitation; open the link you were sent.")
        return _insert_rater(conn, row, name)


def rater_link(study: str, token: str, base_url: str = "") -> str:
    """The personal link a rater opens to come back: ``BASE?study=..&rater=..``."""
    return f"{base_url.split('?')[0]}?{urlencode({'study': study, 'rater': token})}"


def _rater(conn: sqlite3.Connection, study: Study, token: str | None) -> Rater:
    if not isinstance(token, str) or not token.strip():
        raise StudyAccessError("Sign in first: enter your name or open your personal link.")
    given = _hash_token(token.strip())
    row = conn.execute("SELECT * FROM raters WHERE study_id = ? AND token_hash = ?",
                       (study.id, given)).fetchone()
    if row is None or not hmac.compare_digest(given, row["token_hash"]):
        raise StudyAccessError(f"That rater token is not valid for study '{study.name}'; "
                               "open the link you were given.")
    return Rater.from_row(row)


def rater_from_token(db: DBLike, study: int | str, token: str) -> Rater:
    with as_db(db).read() as conn:
        return _rater(conn, _study_row(conn, study), token)


# ----------------------------------------------------------------------------- items


def _check_model(model: str) -> str:
    value = str(model or "").strip().lower()
    if value not in MODELS:
        raise InvalidInputError(f"Choose the 3D or the 2D model (got '{model}').")
    return value


def study_layout(db: DBLike, study: int | str) -> dict[str, dict[int, int]]:
    """model -> part -> number of items, so a rater can pick any part and item."""
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        layout: dict[str, dict[int, int]] = {}
        for r in conn.execute("SELECT model, part, COUNT(*) AS n FROM items WHERE study_id = ? "
                              "GROUP BY model, part ORDER BY model, part", (row.id,)):
            layout.setdefault(r["model"], {})[int(r["part"])] = int(r["n"])
    return layout


def get_item(db: DBLike, study: int | str, model: str, part: int, position: int) -> Item:
    model = _check_model(model)
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        item = conn.execute("SELECT * FROM items WHERE study_id = ? AND model = ? AND part = ? AND "
                            "position = ?", (row.id, model, int(part), int(position))).fetchone()
    if item is None:
        raise InvalidInputError(f"Part {part} of the {MODEL_LABELS[model]} model has no item {position}.")
    return Item.from_row(item)


def list_items(db: DBLike, study: int | str, model: str | None = None) -> list[Item]:
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        query = "SELECT * FROM items WHERE study_id = ?"
        args: list[Any] = [row.id]
        if model is not None:
            query += " AND model = ?"
            args.append(_check_model(model))
        rows = conn.execute(query + " ORDER BY model DESC, part, position", args).fetchall()
    return [Item.from_row(r) for r in rows]


def point_blendshapes(point: EmotionPoint):  # -> emo_app.blendshapes.Blendshapes
    """Point -> 8 Emo3D intensities -> 52 ARKit blendshapes through the text area's FACS prior
    (emotion -> action units -> shapes), so a study face is interpretable and needs no model."""
    try:
        from emo_app.text.facs import shapes_for_point
    except ImportError as exc:
        raise EmoAppError("Rendering a study face needs the FACS prior (emo_app.text.facs), which "
                          "this build lacks; create the study from a folder of images instead.") from exc
    return shapes_for_point(point)


def default_point_renderer(size: int = 256) -> PointRenderer:
    """Render our face for a point (front view). Imported lazily: the renderer is heavy."""
    def render(point: EmotionPoint) -> np.ndarray:
        try:
            from emo_app.face import get_face_renderer
        except ImportError as exc:
            raise EmoAppError("The face renderer (emo_app.face) is not available; create the study "
                              "from a folder of images instead.") from exc
        shapes = point_blendshapes(point)
        return np.asarray(get_face_renderer().render(shapes, view="front", size=size))
    return render


def item_image(db: DBLike, item: Item, *, render: PointRenderer | None = None,
               cache_dir: str | os.PathLike[str] | None = None, size: int = 256) -> np.ndarray:
    """The item's image as RGB uint8: its file, or a render of its point cached as PNG."""
    from PIL import Image

    from emo_app.validation import load_image

    if item.image_path:
        return load_image(item.image_path)
    folder = Path(cache_dir) if cache_dir is not None else as_db(db).path.parent / "study_images"
    cached = folder / f"study{item.study_id}" / f"{item.model}_p{item.part}_{item.position:03d}.png"
    if cached.is_file():
        return load_image(cached)
    image = load_image((render or default_point_renderer(size))(item.point))
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".tmp.png")
    Image.fromarray(image).save(partial)
    partial.replace(cached)  # atomic: a reader never sees half a PNG
    return image


# ----------------------------------------------------------------------------- votes


def _check_score(score: Any) -> int:
    message = f"Choose a score from {MIN_SCORE} to {MAX_SCORE}"
    if isinstance(score, bool) or score is None:
        raise InvalidInputError(f"{message}.")
    try:
        value = float(str(score).strip())
    except ValueError as exc:
        raise InvalidInputError(f"{message}; got {score!r}.") from exc
    if not value.is_integer() or not MIN_SCORE <= value <= MAX_SCORE:
        raise InvalidInputError(f"{message}; got {score!r}.")
    return int(value)


def _item_in_study(conn: sqlite3.Connection, study: Study, item_id: int) -> None:
    row = conn.execute("SELECT 1 FROM items WHERE id = ? AND study_id = ?",
                       (int(item_id), study.id)).fetchone()
    if row is None:
        raise InvalidInputError(f"Item {item_id} is not part of study '{study.name}'.")


def cast_vote(db: DBLike, study: int | str, rater_token: str, item_id: int, score: int) -> Vote:
    """Record a first vote; committed durably before this returns. A second vote on the same
    item raises AlreadyVotedError (the database's UNIQUE constraint decides, even under races)."""
    score = _check_score(score)
    with as_db(db).write() as conn:
        row = _study_row(conn, study)
        rater = _rater(conn, row, rater_token)
        _item_in_study(conn, row, item_id)
        try:
            cursor = conn.execute("INSERT INTO votes (item_id, rater_id, score) VALUES (?, ?, ?)",
                                  (int(item_id), rater.id, score))
        except sqlite3.IntegrityError as exc:
            raise AlreadyVotedError(
                "You already rated this face; use 'Change my vote' to update it."
            ) from exc
        vote = conn.execute("SELECT * FROM votes WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return Vote.from_row(vote)


def change_vote(db: DBLike, study: int | str, rater_token: str, item_id: int, score: int) -> Vote:
    """Explicitly replace the rater's own earlier vote on an item."""
    score = _check_score(score)
    with as_db(db).write() as conn:
        row = _study_row(conn, study)
        rater = _rater(conn, row, rater_token)
        _item_in_study(conn, row, item_id)
        updated = conn.execute(
            "UPDATE votes SET score = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE item_id = ? AND rater_id = ?", (score, int(item_id), rater.id))
        if updated.rowcount != 1:
            raise InvalidInputError("You have not rated this face yet; submit a vote first.")
        vote = conn.execute("SELECT * FROM votes WHERE item_id = ? AND rater_id = ?",
                            (int(item_id), rater.id)).fetchone()
    return Vote.from_row(vote)


def my_votes(db: DBLike, study: int | str, rater_token: str) -> dict[int, int]:
    """item id -> score for the signed-in rater only."""
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        rater = _rater(conn, row, rater_token)
        return {int(r[0]): int(r[1]) for r in conn.execute(
            "SELECT item_id, score FROM votes WHERE rater_id = ?", (rater.id,))}


def rater_progress(db: DBLike, study: int | str, rater_token: str) -> dict[str, dict[int, tuple[int, int]]]:
    """model -> part -> (rated by me, items) for the signed-in rater."""
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        rater = _rater(conn, row, rater_token)
        progress: dict[str, dict[int, tuple[int, int]]] = {}
        for r in conn.execute(
            "SELECT i.model, i.part, COUNT(*) AS n, COUNT(v.id) AS done FROM items i LEFT JOIN votes v "
            "ON v.item_id = i.id AND v.rater_id = ? WHERE i.study_id = ? GROUP BY i.model, i.part",
            (rater.id, row.id),
        ):
            progress.setdefault(r["model"], {})[int(r["part"])] = (int(r["done"]), int(r["n"]))
    return progress


# ----------------------------------------------------------------------------- results


def _vote_rows(conn: sqlite3.Connection, study: Study) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT v.id AS vote_id, i.id AS item_id, i.model, i.part, i.position, i.point_id, i.valence, "
        "i.arousal, i.z, i.nearest_class, i.image_path, r.name AS rater, v.score, v.created_at, "
        "v.updated_at FROM votes v JOIN items i ON i.id = v.item_id JOIN raters r ON r.id = v.rater_id "
        "WHERE i.study_id = ? ORDER BY v.id", (study.id,)).fetchall()


def study_results(db: DBLike, admin_token: str, study: int | str) -> StudyResults:
    """Overall and class-wise results per model (admins only)."""
    check_admin(db, admin_token)
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        votes = _vote_rows(conn, row)
        items = conn.execute("SELECT id, model, nearest_class FROM items WHERE study_id = ?",
                             (row.id,)).fetchall()
    records = [VoteRecord(v["model"], v["item_id"], v["nearest_class"], v["rater"], v["score"])
               for v in votes]
    return aggregate(records, study=row.name,
                     item_classes={(i["model"], i["id"]): i["nearest_class"] for i in items})


EXPORT_COLUMNS = ("vote_id", "study", "model", "part", "position", "item_id", "point_id", "valence",
                  "arousal", "z", "nearest_class", "image_path", "rater", "score", "created_at",
                  "updated_at")


def export_votes_csv(db: DBLike, admin_token: str, study: int | str,
                     path: str | os.PathLike[str]) -> Path:
    """Every vote with its item and rater as CSV (admins only); written atomically."""
    check_admin(db, admin_token)
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        votes = _vote_rows(conn, row)
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for v in votes:
            writer.writerow([v["vote_id"], row.name, v["model"], v["part"], v["position"], v["item_id"],
                             v["point_id"], v["valence"], v["arousal"], v["z"], v["nearest_class"],
                             v["image_path"] or "", v["rater"], v["score"], v["created_at"],
                             v["updated_at"]])
    partial.replace(target)
    return target


# ----------------------------------------------------------------------------- UI handlers
# The Study tab wraps these one-to-one; each takes the database first and plain values after.


def ui_study_names(db: DBLike) -> list[str]:
    return [s.name for s in list_studies(db)]


def ui_open_link(db: DBLike, query: Mapping[str, str]) -> tuple[str | None, str, str]:
    """A rater's link ``?study=..&rater=..`` -> (study, token, greeting); a bad link only explains."""
    study, token = (query.get("study") or "").strip(), (query.get("rater") or "").strip()
    if not study:
        return None, "", ""
    if not token:
        return study, "", f"Study '{study}': enter your name to start rating."
    try:
        rater = rater_from_token(db, study, token)
    except EmoAppError as exc:
        return None, "", str(exc)
    return study, token, f"Signed in as **{rater.name}** for study '{study}'."


def ui_sign_in(db: DBLike, study: str, name: str, token: str, base_url: str = "") -> tuple[str, str]:
    """Token -> that rater; otherwise a new rater by name. Returns (token, message)."""
    if not study:
        raise InvalidInputError("Choose a study first.")
    if token and token.strip():
        rater = rater_from_token(db, study, token)
        return token.strip(), f"Signed in as **{rater.name}**."
    rater, new_token = join_study(db, study, name)
    return new_token, (
        f"Welcome, **{rater.name}**. Keep your personal link to come back and change votes: "
        f"`{rater_link(study, new_token, base_url)}` (your token: `{new_token}`)."
    )


def _progress_text(db: DBLike, study: str, token: str) -> str:
    progress = rater_progress(db, study, token)
    parts = []
    for model in MODELS:
        if model in progress:
            done = sum(d for d, _ in progress[model].values())
            total = sum(n for _, n in progress[model].values())
            per_part = ", ".join(f"part {p}: {d}/{n}" for p, (d, n) in sorted(progress[model].items()))
            parts.append(f"**{MODEL_LABELS[model]}** {done}/{total} ({per_part})")
    return "Your progress: " + "; ".join(parts) if parts else "This study has no items yet."


def ui_show_item(
    db: DBLike, study: str, token: str, model: str, part: int, position: int,
    render: PointRenderer | None = None, cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray | None, str, int | None, str]:
    """(image, what the item shows, my earlier score or None, my progress) for a signed-in rater."""
    rater_from_token(db, study, token)  # raters only; raises for anyone else
    item = get_item(db, study, model, int(part), int(position))
    note = ""
    try:
        image = item_image(db, item, render=render, cache_dir=cache_dir)
    except EmoAppError as exc:
        image, note = None, f"\n\n_Image unavailable: {exc}_"
    point = item.point
    distance = nearest_classes(point, 1, model=item.model)[0][1]
    flat = " (2D AV model: Z is 0)" if item.model == "2d" else ""
    mine = my_votes(db, study, token).get(item.id)
    text = (
        f"**{MODEL_LABELS[item.model]}**, part {item.part}, item {item.position}{flat}  \n"
        f"Point: valence {point.valence:+.3f}, arousal {point.arousal:+.3f}, Z {point.z:+.3f}  \n"
        f"Emotion to judge (nearest class): **{item.nearest_class}** (distance {distance:.2f})  \n"
        f"How well does the face show this emotion? 1 = not at all, 5 = perfectly.  \n"
        + (f"You rated this face **{mine}**." if mine is not None else "You have not rated this face yet.")
        + note
    )
    return image, text, mine, _progress_text(db, study, token)


def ui_navigate(db: DBLike, study: str, model: str, part: int, position: int, step: int) -> tuple[int, int]:
    """Move ``step`` items forwards or backwards, across parts, wrapping at the ends."""
    layout = study_layout(db, study).get(_check_model(model), {})
    order = [(p, i) for p in sorted(layout) for i in range(1, layout[p] + 1)]
    if not order:
        raise InvalidInputError("This model has no items in the study.")
    current = (int(part), int(position))
    index = order.index(current) if current in order else 0
    return order[(index + int(step)) % len(order)]


def ui_next_unrated(
    db: DBLike, study: str, token: str, model: str, part: int, position: int
) -> tuple[int, int]:
    """The next item (after the current one) that this rater has not rated yet."""
    mine = my_votes(db, study, token)
    items = list_items(db, study, model)
    if not items:
        raise InvalidInputError("This model has no items in the study.")
    keys = [(i.part, i.position) for i in items]
    start = keys.index((int(part), int(position))) + 1 if (int(part), int(position)) in keys else 0
    for offset in range(len(items)):
        item = items[(start + offset) % len(items)]
        if item.id not in mine:
            return item.part, item.position
    raise InvalidInputError(f"You have rated every {MODEL_LABELS[_check_model(model)]} face. Thank you!")


def ui_vote(db: DBLike, study: str, token: str, model: str, part: int, position: int,
            score: Any) -> tuple[str, str]:
    """Commit a first vote, then confirm it: (message, progress)."""
    item = get_item(db, study, model, int(part), int(position))
    vote = cast_vote(db, study, token, item.id, score)
    return (f"Saved: you rated part {item.part}, item {item.position} **{vote.score}**.",
            _progress_text(db, study, token))


def ui_change_vote(db: DBLike, study: str, token: str, model: str, part: int, position: int,
                   score: Any) -> tuple[str, str]:
    """Explicitly replace the rater's vote on the shown item: (message, progress)."""
    item = get_item(db, study, model, int(part), int(position))
    vote = change_vote(db, study, token, item.id, score)
    return (f"Changed: part {item.part}, item {item.position} is now **{vote.score}**.",
            _progress_text(db, study, token))


def ui_admin_overview(db: DBLike, admin_token: str) -> str:
    """Admins only: each study with its item, rater and vote counts."""
    check_admin(db, admin_token)
    lines = ["| study | items | raters | votes |", "| --- | --- | --- | --- |"]
    with as_db(db).read() as conn:
        for r in conn.execute(
            "SELECT s.name, (SELECT COUNT(*) FROM items i WHERE i.study_id = s.id) AS items, "
            "(SELECT COUNT(*) FROM raters r WHERE r.study_id = s.id) AS raters, "
            "(SELECT COUNT(*) FROM votes v JOIN items i ON i.id = v.item_id WHERE i.study_id = s.id) "
            "AS votes FROM studies s ORDER BY s.id"
        ):
            lines.append(f"| {r['name']} | {r['items']} | {r['raters']} | {r['votes']} |")
    return "Admin unlocked.\n\n" + ("\n".join(lines) if len(lines) > 2 else "No studies yet.")


def ui_admin_create(db: DBLike, admin_token: str, name: str, source: str, seed: Any = 0,
                    folder: str = "", csv_path: str = "", model: str = "3d") -> str:
    """Create a study from generated points ('points') or a folder + CSV ('folder')."""
    if source == "points":
        try:
            seed_value = int(seed or 0)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"The seed must be a whole number; got {seed!r}.") from exc
        study = create_study_from_points(db, admin_token, name, seed=seed_value)
    elif source == "folder":
        if not folder:
            raise InvalidInputError("Enter the folder that holds the images and their CSV.")
        study = create_study_from_folder(db, admin_token, name, folder, csv_path or None, model=model)
    else:
        raise InvalidInputError("Choose where the items come from: generated points or a folder.")
    count = sum(sum(parts.values()) for parts in study_layout(db, study.id).values())
    return f"Created study '{study.name}' with {count} items; pick it in the Study list."


def ui_admin_add_rater(db: DBLike, admin_token: str, study: str, rater_name: str, base_url: str = "") -> str:
    rater, token = add_rater(db, admin_token, study, rater_name)
    return f"Rater **{rater.name}** added. Send them this link: `{rater_link(study, token, base_url)}`"


def ui_admin_results(db: DBLike, admin_token: str, study: str) -> tuple[str, Any]:
    """(Table-1-style markdown, bar chart figure) for admins."""
    results = study_results(db, admin_token, study)
    return results.to_markdown(), results.bar_chart()


def ui_admin_export(db: DBLike, admin_token: str, study: str,
                    out_dir: str | os.PathLike[str] | None = None) -> str:
    """Write the votes CSV and return its path (for a download component)."""
    check_admin(db, admin_token)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(study)) or "study"
    folder = Path(out_dir) if out_dir is not None else as_db(db).path.parent / "exports"
    return str(export_votes_csv(db, admin_token, study, folder / f"{safe}_votes.csv"))
