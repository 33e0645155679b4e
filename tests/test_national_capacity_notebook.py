"""The national-capacity notebook (notebooks/national_capacity.ipynb) run top to bottom in a Jupyter kernel of this
interpreter on the full sample release, whose COP national questionnaire responses are SYNTHETIC, and committed
without outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import nbformat
import pytest

from conftest import execute_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "national_capacity.ipynb"
COUNTRY = ("GHA", "Ghana")  # the notebook's default COUNTRY, a respondent of both sample rounds


def test_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell is the parameters cell"
    for index, cell_ in enumerate(code):
        assert cell_.outputs == [] and cell_.execution_count is None, f"code cell {index} was saved with outputs"


def tagged(notebook, tag: str):
    [cell_] = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell_


def texts(cell_, kind: str) -> list[str]:
    """The cell's outputs of one MIME type ('text/plain', 'text/markdown')."""
    return [o["data"][kind] for o in cell_.outputs if kind in o.get("data", {})]


def table_cell(text: str, row: str, column: str) -> str:
    """The shown value of a DataFrame's text output at a row label and column header (one header line: the
    columns' name then the labels, as a pivot with a named columns axis prints)."""
    lines = text.splitlines()
    header = lines[0].split()[1:]
    [shown] = [line for line in lines if line.startswith(row + " ")]
    return dict(zip(header, shown[len(row):].split()))[column]


@pytest.fixture(scope="module")
def latest_round_gaps(release_folder):
    """(latest round, the default country's roadmap gap items in it) read from the release's database."""
    con = duckdb.connect(str(release_folder / "cop_indicators.duckdb"), read_only=True)
    try:
        [(round_,)] = con.execute("SELECT max(TIME_PERIOD) FROM capacity_scores").fetchall()
        items = [item for (item,) in con.execute(
            "SELECT ITEM FROM roadmap_gaps WHERE REF_AREA = ? AND TIME_PERIOD = ?", [COUNTRY[0], round_]).fetchall()]
    finally:
        con.close()
    return round_, items


def test_notebook_runs_top_to_bottom_on_the_release(release_folder, latest_round_gaps, kernel_name, monkeypatch):
    notebook = execute_notebook(NOTEBOOK, release_folder, kernel_name, monkeypatch)

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    markdown = "\n".join(text for c in notebook.cells if c.cell_type == "code" for text in texts(c, "text/markdown"))
    release_id = json.loads((release_folder / "manifest.json").read_text(encoding="utf-8"))["release_id"]
    assert f"Release **{release_id}**" in markdown  # it read the release it was pointed at
    assert "responses of this release are **SYNTHETIC**" in markdown
    assert Path(notebook.cells[-1].outputs[0]["text"].strip()).resolve() == Path(sys.executable).resolve()

    # the response rate by region and round: the world in 2009 is 51 of 191 Member States, 26.7 %
    rates = tagged(notebook, "response-rate")
    [rate_table] = [t for t in texts(rates, "text/plain") if t.startswith("round")]
    assert table_cell(rate_table, "World", "2009") == "26.7"
    assert "2009: 51 of 191 invited countries responded (26.7 %)" in "".join(texts(rates, "text/markdown"))

    # the rank-interval plot, and the release's heatmap chart when the release has one
    round_, items = latest_round_gaps
    heatmap = (release_folder / "charts" / f"NC.11_heatmap_{round_}.png").is_file()
    assert len([o for o in outputs if "image/png" in o.get("data", {})]) == 1 + heatmap

    # the default country's roadmap gaps: every missing checklist item of the release, and their number
    gaps = tagged(notebook, "roadmap-gaps")
    assert f"The {len(items)} checklist items {COUNTRY[1]} still misses" in "".join(texts(gaps, "text/markdown"))
    shown = "".join(texts(gaps, "text/plain"))
    assert items and all(item in shown for item in items)
