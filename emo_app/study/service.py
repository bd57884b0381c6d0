"""Everything a rating study does, as plain functions: create studies, enrol raters, vote,
navigate, aggregate and export, so the Study tab (which words it all for people), the CLI and
tests share one implementation. The SQL lives in ``emo_app.study.storage``.

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

from emo_app.emotion.space import EmotionPoint
from emo_app.errors import EmoAppError, InvalidInputError
from emo_app.study import storage
from emo_app.study.db import StudyDB, as_db
from emo_app.study.model import MAX_SCORE, MIN_SCORE, MODEL_LABELS, MODELS, Item, Rater, Study, Vote
from emo_app.study.points import PARTS, PER_PART, generate_study_points
from emo_app.study.results import StudyResults, VoteRecord, aggregate

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
        storage.insert_admin_token(conn, _hash_token(token), str(label)[:MAX_NAME_CHARS])
    return token


def check_admin(db: DBLike, token: str | None) -> None:
    """Raise StudyAccessError unless ``token`` is a stored admin token or EMO_STUDY_ADMIN_TOKEN."""
    denied = StudyAccessError("That admin token is not valid. Ask the study owner for one "
                              "(`python -m emo_app study admin-token` makes one).")
    if not isinstance(token, str) or not token.strip():  # nothing typed yet: say where it goes
        raise StudyAccessError("No admin token was given. Enter yours (`python -m emo_app study "
                               f"admin-token` makes one, or set {ADMIN_ENV_VAR} where the app runs).")
    given = _hash_token(token.strip())
    valid = False
    env_token = os.environ.get(ADMIN_ENV_VAR, "").strip()
    if env_token:
        valid |= hmac.compare_digest(given, _hash_token(env_token))
    with as_db(db).read() as conn:
        for stored in storage.admin_token_hashes(conn):
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


def _study_row(conn: sqlite3.Connection, study: int | str | Study | None) -> Study:
    if study is None or (isinstance(study, str) and not study.strip()):  # nothing picked on the page
        raise InvalidInputError("Choose a study in the Study list first.")
    found = storage.find_study(conn, study)
    if found is None:
        raise InvalidInputError(f"There is no study called '{study}'; pick one from the list.")
    return found


def list_studies(db: DBLike = None) -> list[Study]:
    """Study names are public (raters pick one); their votes and results are not."""
    with as_db(db).read() as conn:
        return storage.all_studies(conn)


def get_study(db: DBLike, study: int | str) -> Study:
    with as_db(db).read() as conn:
        return _study_row(conn, study)


def _insert_study(conn: sqlite3.Connection, name: str, description: str, open_enrollment: bool) -> int:
    try:
        return storage.insert_study(conn, name, description, open_enrollment)
    except sqlite3.IntegrityError as exc:
        raise InvalidInputError(f"A study called '{name}' already exists; choose another name.") from exc


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
                storage.insert_item(conn, study_id, model, p.part, p.position, p.point(model), None, p.id)
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
            storage.insert_item(conn, study_id, item_model, part, position, point, image, index)
        return _study_row(conn, study_id)


# ----------------------------------------------------------------------------- raters


def _insert_rater(conn: sqlite3.Connection, study: Study, name: str) -> tuple[Rater, str]:
    token = _new_token()
    try:
        return storage.insert_rater(conn, study.id, name, _hash_token(token)), token
    except sqlite3.IntegrityError as exc:
        raise InvalidInputError(
            f"The name '{name}' is already taken in this study; open your personal link (or "
            "enter your token), or choose another name."
        ) from exc


def add_rater(db: DBLike, admin_token: str, study: int | str, name: str) -> tuple[Rater, str]:
    """Admin enrols a rater; returns the rater and their token (shown once)."""
    check_admin(db, admin_token)
    name = _clean_name(name, "rater name")
    with as_db(db).write() as conn:
        return _insert_rater(conn, _study_row(conn, study), name)


def join_study(db: DBLike, study: int | str, name: str) -> tuple[Rater, str]:
    """A rater enrols themselves by name (studies with open enrolment); returns their token."""
    with as_db(db).write() as conn:
        row = _study_row(conn, study)  # first: with nothing filled in, the study is what to pick first
        name = _clean_name(name, "name")
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
    rater = storage.find_rater(conn, study.id, given)  # looked up by the token's hash
    if rater is None:
        raise StudyAccessError(f"That rater token is not valid for study '{study.name}'; "
                               "open the link you were given.")
    return rater


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
        return storage.item_layout(conn, _study_row(conn, study).id)


def get_item(db: DBLike, study: int | str, model: str, part: int, position: int) -> Item:
    model = _check_model(model)
    with as_db(db).read() as conn:
        item = storage.find_item(conn, _study_row(conn, study).id, model, part, position)
    if item is None:
        layout = study_layout(db, study).get(model, {})
        if not layout:
            raise InvalidInputError(f"This study has no {MODEL_LABELS[model]} items; choose the other model.")
        if int(part) not in layout:
            raise InvalidInputError(f"There is no part {part}: the {MODEL_LABELS[model]} model has parts "
                                    f"{min(layout)} to {max(layout)}.")
        raise InvalidInputError(f"Part {part} of the {MODEL_LABELS[model]} model has items 1 to "
                                f"{layout[int(part)]}; there is no item {position}.")
    return item


def list_items(db: DBLike, study: int | str, model: str | None = None) -> list[Item]:
    with as_db(db).read() as conn:
        return storage.study_items(conn, _study_row(conn, study).id,
                                   None if model is None else _check_model(model))


def point_blendshapes(point: EmotionPoint):  # -> emo_app.blendshapes.Blendshapes
    """Point -> 8 Emo3D intensities -> 52 ARKit blendshapes through the text area's FACS prior
    (emotion -> action units -> shapes), so a study face is interpretable and needs no model."""
    from emo_app.text.facs import shapes_for_point

    return shapes_for_point(point)


def default_point_renderer(size: int = 256) -> PointRenderer:
    """Render our face for a point (front view). Imported lazily: the renderer is heavy."""
    def render(point: EmotionPoint) -> np.ndarray:
        from emo_app.face import get_face_renderer

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
    if not storage.item_in_study(conn, study.id, item_id):
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
            return storage.insert_vote(conn, item_id, rater.id, score)
        except sqlite3.IntegrityError as exc:
            raise AlreadyVotedError(
                "You already rated this face; use 'Change my vote' to update it."
            ) from exc


def change_vote(db: DBLike, study: int | str, rater_token: str, item_id: int, score: int) -> Vote:
    """Explicitly replace the rater's own earlier vote on an item."""
    score = _check_score(score)
    with as_db(db).write() as conn:
        row = _study_row(conn, study)
        rater = _rater(conn, row, rater_token)
        _item_in_study(conn, row, item_id)
        vote = storage.update_vote(conn, item_id, rater.id, score)
    if vote is None:
        raise InvalidInputError("You have not rated this face yet; submit a vote first.")
    return vote


def my_votes(db: DBLike, study: int | str, rater_token: str) -> dict[int, int]:
    """item id -> score for the signed-in rater only."""
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        return storage.rater_votes(conn, _rater(conn, row, rater_token).id)


def rater_progress(db: DBLike, study: int | str, rater_token: str) -> dict[str, dict[int, tuple[int, int]]]:
    """model -> part -> (rated by me, items) for the signed-in rater."""
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        return storage.rater_progress(conn, row.id, _rater(conn, row, rater_token).id)


# ----------------------------------------------------------------------------- results


def study_results(db: DBLike, admin_token: str, study: int | str) -> StudyResults:
    """Overall and class-wise results per model (admins only)."""
    check_admin(db, admin_token)
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        votes = storage.vote_rows(conn, row.id)
        classes = storage.item_classes(conn, row.id)
    records = [VoteRecord(v["model"], v["item_id"], v["nearest_class"], v["rater"], v["score"])
               for v in votes]
    return aggregate(records, study=row.name, item_classes=classes)


EXPORT_COLUMNS = ("vote_id", "study", "model", "part", "position", "item_id", "point_id", "valence",
                  "arousal", "z", "nearest_class", "image_path", "rater", "score", "created_at",
                  "updated_at")


def export_votes_csv(db: DBLike, admin_token: str, study: int | str,
                     path: str | os.PathLike[str]) -> Path:
    """Every vote with its item and rater as CSV (admins only); written atomically."""
    check_admin(db, admin_token)
    with as_db(db).read() as conn:
        row = _study_row(conn, study)
        votes = storage.vote_rows(conn, row.id)
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


# ----------------------------------------------------------------------------- navigation


def study_names(db: DBLike) -> list[str]:
    """Every study's name (public: raters pick one)."""
    return [s.name for s in list_studies(db)]


def admin_configured(db: DBLike) -> bool:
    """Whether anyone can unlock the admin part here: EMO_STUDY_ADMIN_TOKEN is set or a token
    was made with ``python -m emo_app study admin-token``."""
    if os.environ.get(ADMIN_ENV_VAR, "").strip():
        return True
    with as_db(db).read() as conn:
        return storage.has_admin_token(conn)


def first_unrated(db: DBLike, study: str, token: str) -> tuple[str, int, int] | None:
    """(model, part, position) of the rater's first unrated item, 3D before 2D; None when done."""
    mine = my_votes(db, study, token)
    for model in MODELS:
        for item in list_items(db, study, model):
            if item.id not in mine:
                return item.model, item.part, item.position
    return None


def step_item(db: DBLike, study: str, model: str, part: int, position: int, step: int) -> tuple[int, int]:
    """(part, position) ``step`` items forwards or backwards, across parts, wrapping at the ends."""
    layout = study_layout(db, study).get(_check_model(model), {})
    order = [(p, i) for p in sorted(layout) for i in range(1, layout[p] + 1)]
    if not order:
        raise InvalidInputError("This model has no items in the study.")
    current = (int(part), int(position))
    index = order.index(current) if current in order else 0
    return order[(index + int(step)) % len(order)]


def next_unrated(db: DBLike, study: str, token: str, model: str, part: int, position: int) -> tuple[int, int]:
    """(part, position) of the next item after the current one that this rater has not rated."""
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


# ----------------------------------------------------------------------------- admin


def study_overview(db: DBLike, admin_token: str) -> list[dict[str, Any]]:
    """Admins only: each study's name with its item, rater and vote counts."""
    check_admin(db, admin_token)
    with as_db(db).read() as conn:
        return storage.study_counts(conn)


def create_study(db: DBLike, admin_token: str, name: str, source: str, seed: Any = 0,
                 folder: str = "", csv_path: str = "", model: str = "3d") -> Study:
    """A study from generated points (``source`` 'points') or a folder + CSV ('folder')."""
    if source == "points":
        try:
            seed_value = int(seed or 0)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"The seed must be a whole number; got {seed!r}.") from exc
        return create_study_from_points(db, admin_token, name, seed=seed_value)
    if source == "folder":
        if not folder:
            raise InvalidInputError("Enter the folder that holds the images and their CSV.")
        return create_study_from_folder(db, admin_token, name, folder, csv_path or None, model=model)
    raise InvalidInputError("Choose where the items come from: generated points or a folder.")


def item_count(db: DBLike, study: int | str) -> int:
    return sum(sum(parts.values()) for parts in study_layout(db, study).values())


def export_votes(db: DBLike, admin_token: str, study: str,
                 out_dir: str | os.PathLike[str] | None = None) -> Path:
    """The votes CSV written beside the database (``exports/``) or into ``out_dir``."""
    check_admin(db, admin_token)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(study)) or "study"
    folder = Path(out_dir) if out_dir is not None else as_db(db).path.parent / "exports"
    return export_votes_csv(db, admin_token, study, folder / f"{safe}_votes.csv")
