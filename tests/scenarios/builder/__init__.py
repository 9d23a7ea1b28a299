"""Scenario snapshots are built from one coherent healthy cluster plus one mutation each.

`python -m tests.scenarios.builder` rewrites every `tests/scenarios/<id>/<case>/` directory;
a test checks the committed files equal what the builders produce, so they cannot drift.
Each module under `builder/` (other than base) registers scenarios with `@scenario`.
"""
