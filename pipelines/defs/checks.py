"""One way to report a blocking check's violations: counts, failure cases and a summary as metadata (visible in
the Dagster UI and read by `cop build`), and the first violations in the run log."""


import dagster as dg

from indicators.errors import Violation

MAX_VIOLATIONS_ATTACHED = 200
SHOWN_IN_LOG = 20


def violations_result(context: dg.AssetCheckExecutionContext, violations: list[dict],
                      **counts: int) -> dg.AssetCheckResult:
    """Each violation is a Violation.as_dict (file, row, column, rule, value, harmonised_column, position); `counts`
    are extra integer metadata (e.g. rows)."""
    metadata = {**{k: dg.MetadataValue.int(int(v)) for k, v in counts.items()},
                "violations": dg.MetadataValue.int(len(violations))}
    if violations:
        shown = violations[:MAX_VIOLATIONS_ATTACHED]
        metadata["failure_cases"] = dg.MetadataValue.json(shown)
        # worded as `cop build` and InputError word them: the file's line, its own column (harmonised name beside)
        texts = [str(Violation.from_dict(v)) for v in shown[:SHOWN_IN_LOG]]
        metadata["summary"] = dg.MetadataValue.md("\n".join(f"- {text}" for text in texts))
        for text in texts:
            context.log.error(text)
    return dg.AssetCheckResult(passed=not violations, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)
