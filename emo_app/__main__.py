"""`python -m emo_app ...`: see emo_app.cli."""

from emo_app.cli import main

raise SystemExit(main())
