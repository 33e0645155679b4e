"""One way to report a blocking check's violations: counts, failure cases and a summary as metadata (visible in
the Dagster UI and read by `cop build`), and the first violations in the run log."""


import dagster as dg

MAX_VIOLATIONS_ATTACHED = 200
SHOWN_IN_LOG = 20


def violations_result(context: dg.AssetCheckExecutionContext, violations: list[dict],
                      **counts: int) -> dg.AssetCheckResult:
    """Each violation is {file, row, column, rule, value}; `counts` are extra integer metadata (e.g. rows)."""
    metadata = {**{k: dg.MetadataValue.int(int(v)) for k, v in counts.items()},
                "violations": dg.MetadataValue.int(len(violations))}
    if violations:
        shown = violations[:MAX_VIOLATIONS_ATTACHED]
        metadata["failure_cases"] = dg.MetadataValue.json(shown)
        metadata["summary"] = dg.MetadataValue.md("\n".join(
            f"- `{v['file']}` row {v['row']}, column `{v['column']}`: {v['rule']} (value `{v['value']}`)"
            for v in shown[:SHOWN_IN_LOG]))
        for v in shown[:SHOWN_IN_LOG]:
            context.log.error(f"{v['file']}, row {v['row']}, column {v['column']!r}: {v['rule']} "
                              f"(value {v['value']!r})")
    return dg.AssetCheckResult(passed=not violations, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)
