"""Resources: where inputs come from, where releases go, and the DuckDB warehouse."""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from indicators.aggregation import check_min_coverage
from indicators.paths import (DEFAULT_INBOX, DEFAULT_PUBLISHED, DEFAULT_SOURCES, DEFAULT_STORE,
                              MAPPINGS_DIR as DEFAULT_MAPPINGS, default_warehouse)


class BuildSettings(dg.ConfigurableResource):
    """What a build reads and where it publishes. Defaults: the real public snapshot (data/public), data/published."""

    sources_dir: str = str(DEFAULT_SOURCES)
    # the sources manifest (YAML listing each input file and its layout); None: <sources_dir>/sources.yaml.
    # File names in it resolve against sources_dir, so one manifest kept in the repository can describe a
    # folder of real files elsewhere (data/manifests/shared_data.yaml for ../shared/data).
    manifest: str | None = None
    published_dir: str = str(DEFAULT_PUBLISHED)
    registry_dir: str | None = None  # None: indicators/registry in the package
    mappings_dir: str = str(DEFAULT_MAPPINGS)  # one mapping spec per survey source
    min_coverage: float = 0.5  # group values below this share of the group's population are withheld (M)
    lonely_psu: str = "adjust"  # R's survey.lonely.psu policy: adjust, remove, average, certainty, fail
    release_id: str | None = None  # None: a new timestamped id per build
    store_dir: str = str(DEFAULT_STORE)  # content-addressed copies of the deliveries that came through the inbox
    inbox_dir: str = str(DEFAULT_INBOX)  # where providers drop files (the inbox sensor moves them to the store)


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse; its folder is created on first connection, not when definitions load.

    In a run, the warehouse is opened once, on first use, and closed when the run ends; each asset and check gets
    a cursor of that connection (DuckDB: another connection to the same open database, with its own transaction).
    Opening reads the warehouse's catalogue (about 35 ms for the sample's) and the last close checkpoints its
    write-ahead log: once per run instead of once per step (31 steps in a full build). A build killed mid-run
    loses nothing more than before: the next open replays the log. Outside a run (a test calling the resource
    directly), every get_connection opens and closes a connection of its own."""

    _in_run: bool = PrivateAttr(default=False)
    _run_connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _run_stack: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._close_run_connection()

    def _close_run_connection(self) -> None:
        connection, stack = self._run_connection, self._run_stack
        self._run_connection = self._run_stack = None
        if connection is not None:
            connection.close()   # dagster_duckdb closes its connection only on a clean exit: close it anyway
            stack.close()

    @contextmanager
    def get_connection(self):
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        if not self._in_run:
            with super().get_connection() as con:
                try:
                    yield con
                finally:
                    # dagster_duckdb closes the connection only when the step succeeded: a failed step would keep
                    # the warehouse open in a long-lived process (the daemon, a test) until garbage collection
                    con.close()
            return
        if self._run_connection is None:
            stack = ExitStack()
            self._run_connection = stack.enter_context(super().get_connection())
            self._run_stack = stack
        cursor = self._run_connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def default_resources(sources_dir: str | Path | None = None, published_dir: str | Path | None = None,
                      warehouse: str | Path | None = None, registry_dir: str | Path | None = None,
                      release_id: str | None = None, mappings_dir: str | Path | None = None,
                      manifest: str | Path | None = None, min_coverage: float | None = None,
                      store_dir: str | Path | None = None, inbox_dir: str | Path | None = None) -> dict:
    """Resources from arguments, else COP_SOURCES / COP_MANIFEST / COP_PUBLISHED / COP_WAREHOUSE / COP_MAPPINGS /
    COP_STORE / COP_INBOX, else the repo defaults."""
    manifest = manifest or os.environ.get("COP_MANIFEST")
    manifest = Path(manifest).resolve() if manifest else None
    sources = Path(sources_dir or os.environ.get("COP_SOURCES") or DEFAULT_SOURCES).resolve()
    mappings = Path(mappings_dir or os.environ.get("COP_MAPPINGS") or DEFAULT_MAPPINGS).resolve()
    warehouse = Path(warehouse or os.environ.get("COP_WAREHOUSE") or default_warehouse(sources, manifest, mappings))
    return {
        "build": BuildSettings(
            sources_dir=str(sources),
            published_dir=str(Path(published_dir or os.environ.get("COP_PUBLISHED") or DEFAULT_PUBLISHED)
                              .resolve()),
            manifest=str(manifest) if manifest else None,
            registry_dir=str(registry_dir) if registry_dir else None,
            release_id=release_id,
            min_coverage=check_min_coverage(0.5 if min_coverage is None else min_coverage),
            mappings_dir=str(mappings),
            store_dir=str(Path(store_dir or os.environ.get("COP_STORE") or DEFAULT_STORE).resolve()),
            inbox_dir=str(Path(inbox_dir or os.environ.get("COP_INBOX") or DEFAULT_INBOX).resolve()),
        ),
        "warehouse": WarehouseResource(database=str(warehouse.resolve())),
    }
