"""One build = one Dagster run of what the build plan says changed (indicators.build_plan).

The run's selection: every asset of a source whose files changed (for a partitioned source, the partition range
from its first to its last changed delivery: the partitioned assets take every key of the range at once and skip
those whose fingerprint still matches), the estimates when the registry or settings changed, and always the gate,
the group values and the release. A change of code, or a warehouse without a complete build, runs everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from indicators.build_plan import BuildPlan
from indicators.sources import registered_sources

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
FINAL_STAGES = (("staging", "sources_checked"), ("estimates", "aggregates"), ("release",))


@dataclass
class RunSelection:
    assets: list[dg.AssetKey]
    tags: dict[str, str]
    partitions: list[str]  # the survey partitions the run covers (its range), in partition order


def ensure_partitions(instance: dg.DagsterInstance, plan: BuildPlan) -> dict[str, list[str]]:
    """Add the partitions of new deliveries (in sorted order, so that a range run covers neighbours), and return
    each partitioned source's partitions in the instance's order."""
    orders = {}
    for source in registered_sources():
        if source.partitions is None or source.name not in plan.sources:
            continue
        known = instance.get_dynamic_partitions(source.partitions)
        new = sorted(set(plan.sources[source.name].current) - set(known))
        if new:
            instance.add_dynamic_partitions(source.partitions, new)
        orders[source.name] = instance.get_dynamic_partitions(source.partitions)
    return orders


def select_run(defs: dg.Definitions, by_source: dict[str, list[dg.AssetsDefinition]], plan: BuildPlan,
               orders: dict[str, list[str]], force: bool = False) -> RunSelection:
    """The assets (and partition range) of the run that brings the warehouse and the release up to date;
    `by_source`: each source's assets (pipelines.definitions.source_defs)."""
    everything = force or plan.code_changed or not plan.recorded_versions
    selected: list[dg.AssetKey] = []
    tags: dict[str, str] = {}
    covered: list[str] = []

    def add(assets) -> None:
        for asset in assets:
            for key in asset.keys:
                if key not in selected:
                    selected.append(key)

    for name, assets in by_source.items():
        source_plan = plan.sources.get(name)
        partitioned = [a for a in assets if a.partitions_def is not None]
        others = [a for a in assets if a.partitions_def is None]
        if source_plan is None:
            continue
        changed = sorted(source_plan.current) if everything else source_plan.changed
        if not partitioned:
            if everything or changed or source_plan.removed:
                add(assets)
            continue
        order = orders.get(name, [])
        positions = sorted(order.index(k) for k in changed if k in order)
        if positions:
            covered = order[positions[0]:positions[-1] + 1]
            tags = {RANGE_START: covered[0], RANGE_END: covered[-1]}
            add(partitioned)
        if positions or source_plan.removed:
            add(others)
    if everything or plan.estimation_changed:
        add([a for a in defs.resolve_asset_graph().assets_defs
             if a.partitions_def is None and any(k.path[0] == "estimates" for k in a.keys)])
        selected.append(dg.AssetKey(["reference", "indicator_registry"]))
    if everything:
        selected.append(dg.AssetKey(["reference", "country_codes"]))
    if selected or not plan.nothing_to_do:
        for path in FINAL_STAGES:
            key = dg.AssetKey(list(path))
            if path[0] == "staging" and not any(k.path[0] == "staging" for k in selected):
                continue
            if key not in selected:
                selected.append(key)
    return RunSelection(list(dict.fromkeys(selected)), tags, covered)
