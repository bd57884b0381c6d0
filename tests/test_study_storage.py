"""Study storage: WAL + schema version, one vote per rater per item under races, durability
under SIGKILL, and admin-only access to results."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from emo_app.study import service
from emo_app.study.db import SCHEMA_VERSION, StudyDatabaseError, StudyDB, default_db_path

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(tmp_path: Path) -> StudyDB:
    return StudyDB(tmp_path / "study.sqlite3")


@pytest.fixture
def admin(db: StudyDB) -> str:
    return service.create_admin_token(db, "test")


@pytest.fixture
def study(db: StudyDB, admin: str) -> str:
    service.create_study_from_points(db, admin, "pilot", seed=3, parts=1, per_part=63)
    return "pilot"


def test_database_is_wal_versioned_and_reopens(db: StudyDB, study: str) -> None:
    with sqlite3.connect(db.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert StudyDB(db.path).migrate() == SCHEMA_VERSION  # idempotent
    assert service.study_layout(db, study) == {"2d": {1: 63}, "3d": {1: 63}}


def test_newer_schema_is_refused_with_advice(db: StudyDB, study: str) -> None:
    with sqlite3.connect(db.path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StudyDatabaseError, match="newer than this app"):
        StudyDB(db.path).migrate()


def test_db_path_comes_from_env_or_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emo_app.config import Settings

    monkeypatch.delenv("EMO_STUDY_DB", raising=False)
    assert default_db_path(Settings(data_dir=tmp_path)) == tmp_path / "study.sqlite3"
    monkeypatch.setenv("EMO_STUDY_DB", str(tmp_path / "elsewhere.db"))
    assert default_db_path(Settings(data_dir=tmp_path)) == tmp_path / "elsewhere.db"


def test_concurrent_raters_get_exactly_one_vote_per_item(db: StudyDB, admin: str, study: str) -> None:
    tokens = [service.add_rater(db, admin, study, f"rater{i}")[1] for i in range(5)]
    items = [item.id for item in service.list_items(db, study, "3d")[:6]]
    barrier = threading.Barrier(len(tokens) * 2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def vote_all(token: str, score: int) -> None:
        barrier.wait()
        for item_id in items:
            try:
                service.cast_vote(db, study, token, item_id, score)
                result = "saved"
            except service.AlreadyVotedError:
                result = "duplicate"
            except Exception as exc:  # noqa: BLE001 - any other failure is the bug we look for
                result = f"error: {exc!r}"
            with lock:
                outcomes.append(result)

    # two threads per rater race on the same items with different scores
    threads = [threading.Thread(target=vote_all, args=(t, s)) for t in tokens for s in (2, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(outcomes)
    assert counts == {"saved": len(tokens) * len(items), "duplicate": len(tokens) * len(items)}
    with sqlite3.connect(db.path) as conn:
        per_pair = conn.execute("SELECT item_id, rater_id, COUNT(*) FROM votes GROUP BY item_id, rater_id")
        rows = per_pair.fetchall()
    assert len(rows) == len(tokens) * len(items) and all(n == 1 for _, _, n in rows)


def test_second_vote_needs_explicit_change(db: StudyDB, admin: str, study: str) -> None:
    _, token = service.add_rater(db, admin, study, "Ann")
    item = service.get_item(db, study, "3d", 1, 5)
    with pytest.raises(service.InvalidInputError, match="not rated this face yet"):
        service.change_vote(db, study, token, item.id, 3)
    service.cast_vote(db, study, token, item.id, 2)
    with pytest.raises(service.AlreadyVotedError, match="Change my vote"):
        service.cast_vote(db, study, token, item.id, 5)
    assert service.my_votes(db, study, token) == {item.id: 2}
    assert service.change_vote(db, study, token, item.id, 5).score == 5
    assert service.my_votes(db, study, token) == {item.id: 5}
    for bad in (0, 6, 2.5, "x", None, True):
        with pytest.raises(service.InvalidInputError, match="score from 1 to 5"):
            service.cast_vote(db, study, token, service.get_item(db, study, "3d", 1, 6).id, bad)


def test_rater_token_is_bound_to_its_study(db: StudyDB, admin: str, study: str) -> None:
    service.create_study_from_points(db, admin, "other", seed=4, parts=1, per_part=60, models=("3d",))
    _, token = service.add_rater(db, admin, "other", "Bo")
    item = service.get_item(db, study, "3d", 1, 1)
    with pytest.raises(service.StudyAccessError, match="not valid for study 'pilot'"):
        service.cast_vote(db, study, token, item.id, 3)
    with pytest.raises(service.InvalidInputError, match="already taken"):
        service.join_study(db, "other", "Bo")


def test_wrong_admin_token_sees_nothing(db: StudyDB, admin: str, study: str, tmp_path: Path) -> None:
    _, rater_token = service.add_rater(db, admin, study, "Ann")
    service.cast_vote(db, study, rater_token, service.get_item(db, study, "3d", 1, 1).id, 4)
    out = tmp_path / "votes.csv"
    for wrong in ("", "   ", "nope", admin + "x", rater_token, None):
        with pytest.raises(service.StudyAccessError):
            service.study_results(db, wrong, study)
        with pytest.raises(service.StudyAccessError):
            service.export_votes_csv(db, wrong, study, out)
        with pytest.raises(service.StudyAccessError):
            service.study_overview(db, wrong)
        with pytest.raises(service.StudyAccessError):
            service.add_rater(db, wrong, study, "Eve")
        with pytest.raises(service.StudyAccessError):
            service.create_study_from_points(db, wrong, "sneaky", parts=1, per_part=60)
    assert not out.exists()
    assert [s.name for s in service.list_studies(db)] == ["pilot"]
    with sqlite3.connect(db.path) as conn:
        assert conn.execute("SELECT token_hash FROM admin_tokens").fetchone()[0] != admin  # stored hashed
    # the right token does see the vote
    assert service.study_results(db, admin, study).models["3d"].overall.n_votes == 1


def test_env_admin_token_is_accepted(db: StudyDB, study: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(service.ADMIN_ENV_VAR, "from-the-environment")
    assert [row["study"] for row in service.study_overview(db, "from-the-environment")] == ["pilot"]
    with pytest.raises(service.StudyAccessError):
        service.study_overview(db, "from-the-environment!")


def test_export_lists_every_vote(db: StudyDB, admin: str, study: str, tmp_path: Path) -> None:
    import csv

    _, token = service.add_rater(db, admin, study, "Ann")
    items = service.list_items(db, study, "2d")[:3]
    for score, item in zip((1, 3, 5), items):
        service.cast_vote(db, study, token, item.id, score)
    path = service.export_votes_csv(db, admin, study, tmp_path / "out" / "votes.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["item_id"]), int(r["score"]), r["model"], float(r["z"])) for r in rows] == [
        (item.id, score, "2d", 0.0) for score, item in zip((1, 3, 5), items)
    ]
    assert {r["rater"] for r in rows} == {"Ann"}


_VOTER = """
import sys
from emo_app.study import service
db, study, report_path, *tokens = sys.argv[1:]
items = service.list_items(db, study)
with open(report_path, "a") as report:
    for index, item in enumerate(items):
        for token in tokens:
            vote = service.cast_vote(db, study, token, item.id, 1 + index % 5)
            report.write(f"{vote.id}\\n")
            report.flush()
"""


def test_sigkill_mid_voting_loses_no_committed_vote(
    db: StudyDB, admin: str, study: str, tmp_path: Path
) -> None:
    tokens = [service.add_rater(db, admin, study, f"r{i}")[1] for i in range(2)]
    report = tmp_path / "committed.txt"
    report.touch()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", _VOTER, str(db.path), study, str(report), *tokens],
                               cwd=REPO, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 45  # a safety net, not a speed assertion
        while report.read_text().count("\n") < 30:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the voter never got going"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL  # killed mid-loop, not finished
    text = report.read_text()
    reported = {int(line) for line in text[: text.rfind("\n") + 1].split()}
    assert len(reported) >= 30
    assert db.integrity_check() == "ok"
    with sqlite3.connect(db.path) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM votes")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert reported <= stored
    # the database still takes votes after the crash
    fresh = service.join_study(db, study, "after the crash")[1]
    assert service.cast_vote(db, study, fresh, service.get_item(db, study, "3d", 1, 1).id, 3).score == 3
