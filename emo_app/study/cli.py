"""`python -m emo_app study ...`: admin tokens, create studies, add raters, results and exports.

Imports nothing heavy at import time. Admin commands take ``--admin-token`` or read
EMO_STUDY_ADMIN_TOKEN; ``--db`` overrides EMO_STUDY_DB / <data_dir>/study.sqlite3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from emo_app.cli_args import whole_number


def _db(args: argparse.Namespace):
    from emo_app.study.db import StudyDB

    return StudyDB(args.db) if args.db else StudyDB()


def _token(args: argparse.Namespace) -> str:
    from emo_app.errors import InvalidInputError
    from emo_app.study.service import ADMIN_ENV_VAR

    token = (args.admin_token or os.environ.get(ADMIN_ENV_VAR, "")).strip()
    if not token:
        raise InvalidInputError(f"No admin token was given: pass --admin-token or set {ADMIN_ENV_VAR} "
                                "(`python -m emo_app study admin-token` makes one).")
    return token


def _admin_token(args: argparse.Namespace) -> int:
    from emo_app.study.service import create_admin_token

    db = _db(args)
    print(create_admin_token(db, args.label))
    print(f"(stored hashed in {db.path}; shown only this once)", file=sys.stderr)
    return 0


def _create(args: argparse.Namespace) -> int:
    from emo_app.study import service

    db = _db(args)
    if args.folder:
        study = service.create_study_from_folder(db, _token(args), args.name, args.folder, args.csv,
                                                 model=args.model, per_part=args.per_part)
    else:
        study = service.create_study_from_points(db, _token(args), args.name, seed=args.seed,
                                                 parts=args.parts, per_part=args.per_part)
    layout = service.study_layout(db, study.id)
    print(json.dumps({"study": study.name, "id": study.id, "db": str(db.path),
                      "items": {m: sum(p.values()) for m, p in layout.items()}}))
    return 0


def _add_rater(args: argparse.Namespace) -> int:
    from emo_app.study import service

    rater, token = service.add_rater(_db(args), _token(args), args.study, args.rater)
    print(service.rater_link(args.study, token, args.base_url))
    return 0


def _results(args: argparse.Namespace) -> int:
    from emo_app.study import service

    results = service.study_results(_db(args), _token(args), args.study)
    print(json.dumps(results.to_dict(), indent=2) if args.json else results.to_markdown())
    if args.chart:
        results.bar_chart().savefig(args.chart, dpi=100)
    return 0


def _export(args: argparse.Namespace) -> int:
    from emo_app.study import service

    print(service.export_votes_csv(_db(args), _token(args), args.study, args.out))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    study = subparsers.add_parser("study", help="expert rating study: create, raters, results, export")
    sub = study.add_subparsers(dest="study_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser, admin: bool = True) -> argparse.ArgumentParser:
        p.add_argument("--db", default=None, help="study database (default: EMO_STUDY_DB or data/)")
        if admin:
            p.add_argument("--admin-token", default=None, help="admin token (or EMO_STUDY_ADMIN_TOKEN)")
        return p

    p = common(sub.add_parser("admin-token", help="make a new admin token and print it once"), admin=False)
    p.add_argument("--label", default="", help="who the token is for")
    p.set_defaults(func=_admin_token)

    p = common(sub.add_parser("create", help="create a study from 315 generated points or a folder + CSV"))
    p.add_argument("--name", required=True, help="the new study's name")
    p.add_argument("--seed", type=whole_number(0), default=0, help="seed of the generated points")
    p.add_argument("--parts", type=whole_number(1), default=5, help="parts a rater can take one at a time")
    p.add_argument("--per-part", type=whole_number(1), default=63, help="items per part")
    p.add_argument("--folder", default=None, help="image folder (with a CSV file,valence,arousal,z)")
    p.add_argument("--csv", default=None, help="CSV path (default: the folder's only .csv)")
    p.add_argument("--model", choices=("3d", "2d"), default="3d", help="model the folder's images show")
    p.set_defaults(func=_create)

    p = common(sub.add_parser("add-rater", help="enrol a rater and print their personal link"))
    p.add_argument("--study", required=True, help="the study's name")
    p.add_argument("--rater", required=True, help="the rater's name")
    p.add_argument("--base-url", default="", help="app address to put before ?study=..&rater=..")
    p.set_defaults(func=_add_rater)

    p = common(sub.add_parser("results", help="Table-1-style results beside the paper's"))
    p.add_argument("--study", required=True, help="the study's name")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--chart", default=None, help="also save the bar chart (PNG/SVG/PDF)")
    p.set_defaults(func=_results)

    p = common(sub.add_parser("export", help="write every vote as CSV"))
    p.add_argument("--study", required=True, help="the study's name")
    p.add_argument("--out", required=True, help="the CSV file to write")
    p.set_defaults(func=_export)
