"""Development machinery: does each basic emotion read on the default face? (issue 20, item 5).
Never imported by emo_app."""
