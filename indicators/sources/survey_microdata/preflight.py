"""The pre-flight check a country statistician runs before sending a file: the same reading, harmonisation
and rules as the pipeline, in a throw-away in-memory warehouse, and a readable report."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path

import duckdb

from indicators.sources.survey_microdata.harmonise import SourceResult, harmonise_source
from indicators.sources.survey_microdata.reader import read_microdata
from indicators.sources.survey_microdata.specs import load_spec


def preflight(data_file: Path, spec_file: Path) -> tuple[SourceResult, dict]:
    """Validate `data_file` as the source `spec_file` describes (its `file` key is overridden)."""
    spec = load_spec(Path(spec_file), check_file=False)  # FILE replaces the spec's own file
    con = duckdb.connect()
    try:
        provenance = read_microdata(con, spec, Path(data_file))
        return harmonise_source(con, spec), provenance
    finally:
        con.close()


def report_text(result: SourceResult, provenance: dict) -> str:
    verdict = "ACCEPTED" if result.accepted else "REJECTED"
    lines = [f"{provenance['path']} as source {result.source_id}: {verdict}",
             f"  rows {result.rows}, kept {result.accepted_rows}, rejected rows {result.rejected_rows}"]
    for reason in result.reasons:
        lines.append(f"  source rejected: {reason}")
    if result.rule_counts:
        lines.append("  rows breaking each rule:")
        lines += [f"    {n:>7}  {rule}" for rule, n in sorted(result.rule_counts.items(), key=lambda x: -x[1])]
    if result.first_failures:
        # each message names the file, the line (CSV) or record, the file's column, the rule and the value
        lines.append(f"  first failing rows (of {result.rejected_rows}):")
        lines += [f"    {f['message']}" for f in result.first_failures]
    d = result.design
    if d:
        lines.append(f"  design: {d['strata']} strata, {d['psus']} PSUs, weights {d['weight_min']:.6g} to "
                     f"{d['weight_max']:.6g} (sum {d['weight_sum']:.6g})")
        lines.append("  lonely PSUs (strata with one PSU): " + (", ".join(d["lonely_psu_strata"]) or "none"))
    return "\n".join(lines)


def report_json(result: SourceResult, provenance: dict) -> str:
    return json.dumps({"accepted": result.accepted, **asdict(result), "file": provenance}, indent=2, default=str)


def report_html(result: SourceResult, provenance: dict) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(_where(f))}</td><td>{e(_column(f))}</td><td>{e(str(f['value']))}</td>"
                   f"<td>{e(str(f['rule']))}</td></tr>" for f in result.first_failures)
    rules = "".join(f"<tr><td>{e(rule)}</td><td>{n}</td></tr>" for rule, n in result.rule_counts.items())
    reasons = "".join(f"<li>{e(r)}</li>" for r in result.reasons) or "<li>none</li>"
    d = result.design or {}
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>cop validate {e(result.source_id)}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{border:1px solid #ccc;padding:.2em .5em}}
table{{border-collapse:collapse}} .ok{{color:#060}} .no{{color:#a00}}</style></head><body>
<h1>{e(result.source_id)}: <span class="{'ok' if result.accepted else 'no'}">{'accepted' if result.accepted
                                                                           else 'rejected'}</span></h1>
<p>{e(provenance['path'])} ({e(provenance['format'])}, sha256 {e(provenance['sha256'])})</p>
<p>{result.rows} rows, {result.accepted_rows} kept, {result.rejected_rows} rejected.</p>
<h2>Reasons the source is rejected</h2><ul>{reasons}</ul>
<h2>Rows breaking each rule</h2><table><tr><th>rule</th><th>rows</th></tr>{rules}</table>
<h2>First failing rows</h2><table><tr><th>where</th><th>column</th><th>value</th><th>rule</th></tr>{rows}</table>
<h2>Design</h2><p>{d.get('strata')} strata, {d.get('psus')} PSUs, weights {d.get('weight_min')} to
{d.get('weight_max')}, lonely PSU strata: {e(', '.join(d.get('lonely_psu_strata') or []) or 'none')}</p>
</body></html>
"""


def _where(failure: dict) -> str:
    """"line 3" in a CSV (header = line 1), "record 2" in a binary file."""
    return f"line {failure['line']}" if failure.get("line") is not None else f"record {failure['source_row']}"


def _column(failure: dict) -> str:
    """The file's column, with the harmonised name beside it when the spec renames it: "peso (weight)"."""
    file_column, column = failure.get("file_column"), failure["column"]
    if file_column is None:
        return str(column)
    return file_column if file_column == column else f"{file_column} ({column})"
