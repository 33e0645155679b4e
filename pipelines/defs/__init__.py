"""Dagster definitions, one module per source (pipelines/defs/<source>.py, named by the source's declaration in
indicators/sources/) plus the shared reference tables (reference.py) and what every build ends with (release.py:
the gate that every source was checked, group values, the release). pipelines/definitions.py composes them."""
