"""Publish: write the release folder and move `latest` once everything is written."""


from pathlib import Path

import dagster as dg

from indicators.harmonise_survey import delivery_statuses
from indicators.registry import load_registry
from indicators.release import new_release_id, publish_release
from pipelines.assets.survey_estimates import SURVEY_ESTIMATE_ASSETS
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["release"], group_name="publish", pool="warehouse", kinds={"parquet", "duckdb"},
          deps=[["estimates", "country_year"], ["estimates", "incidents"], ["estimates", "aggregates"]]
          + [a.key for a in SURVEY_ESTIMATE_ASSETS],
          description="data/published/<release_id>/: observations.parquet, cop_indicators.duckdb, charts, "
                      "manifest.json; `latest` moves last.")
def release(context: dg.AssetExecutionContext, build: BuildSettings, warehouse: WarehouseResource) -> dg.MaterializeResult:
    registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
    release_id = build.release_id or new_release_id()
    with warehouse.get_connection() as con:
        inputs = con.execute("SELECT * FROM raw.ict_files ORDER BY priority").df().to_dict("records")
        # the incident files (raw.incident_files: empty when the manifest lists none)
        inputs += con.execute("SELECT * FROM raw.incident_files ORDER BY source_id").df().to_dict("records")
        has_surveys = con.execute("""SELECT count(*) = 2 FROM information_schema.tables WHERE
            (table_schema, table_name) IN (('raw', 'microdata_files'), ('quality', 'source_status'))""").fetchone()[0]
        if has_surveys:
            # the survey deliveries the estimates rest on: accepted sources only
            inputs += con.execute("""SELECT f.*, 'microdata' AS layout FROM raw.microdata_files f
                JOIN quality.source_status s USING (source_id) WHERE s.status = 'accepted'
                ORDER BY source_id""").df().to_dict("records")
        counts = dict(zip(
            ["raw_value_cells", "staging_country_cells", "aggregate_cells_set_aside", "estimates"],
            con.execute("""SELECT (SELECT count(*) FROM raw.ict_country_year),
                                  (SELECT count(*) FROM staging.ict_country_year),
                                  (SELECT count(*) FROM staging.ict_aggregates_set_aside),
                                  (SELECT count(*) FROM estimates.country_year)""").fetchone()))
        folder = publish_release(con, published_dir=Path(build.published_dir), release_id=release_id,
                                 indicators=registry, inputs=inputs, counts=counts,
                                 deliveries=delivery_statuses(con),
                                 synthetic=any(bool(i["synthetic"]) for i in inputs))
    context.log.info(f"published release {release_id} at {folder}")
    return dg.MaterializeResult(metadata={"release_id": release_id, "path": dg.MetadataValue.path(str(folder))})
