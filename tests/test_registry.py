"""The indicator registry: loads and validates, rejects each kind of bad entry with its own error, generates
the catalogue, and takes a new indicator with no Python change."""

from __future__ import annotations

import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from indicators.catalogue import DOCS_PATH, catalogue_frame, render_markdown
from indicators.registry import REGISTRY_DIR, RegistryError, load_registry
from pipelines import cli
from schemas.registry import GROUP_PREFIXES

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "ict_country_year.csv"


def test_the_full_registry_loads_and_counts_per_group_are_as_written():
    registry = load_registry()
    assert len(registry) >= 50
    for path in sorted(REGISTRY_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        written = [entry["code"] for entry in spec["indicators"]]
        assert [i.code for i in registry if i.file == str(path)] == written
        assert all(code.startswith(GROUP_PREFIXES[spec["group"]] + ".") for code in written)
    assert {i.group for i in registry} == set(GROUP_PREFIXES)


@pytest.mark.shared_data
def test_every_indicator_of_the_reference_list_is_in_the_registry():
    reference = SHARED / "INDICATORS.md"
    if not reference.exists():
        pytest.skip(f"{reference} absent (shared reference list)")
    listed = set(re.findall(r"^\| ((?:BC|SA|RB|IR|PA|NC)\.\d+) \|", reference.read_text(), re.M))
    assert len(listed) == 52  # its closing line says 50, but the table has 52 rows (BC 10 SA 5 RB 5 IR 14 PA 7 NC 11)
    assert listed <= {i.code for i in load_registry()}


# ---------------------------------------------------------------------------------------------- bad entries
GOOD = {"code": "BC.90", "name": "Test indicator", "unit": "percent", "source": "ict_country_year",
        "definition": "A test indicator used to check that the registry rejects what it should.",
        "method": "value", "value": "internet_users_pct", "disaggregations": [], "decimals": 1,
        "references": ["test"]}


def registry_with(tmp_path: Path, **changes) -> Path:
    """A copy of the real registry plus one extra background_context entry: GOOD with `changes` applied."""
    folder = tmp_path / "registry"
    shutil.copytree(REGISTRY_DIR, folder)
    entry = {k: v for k, v in {**GOOD, **changes}.items() if v is not ...}
    path = folder / "background_context.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["indicators"].append(entry)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


def problems_of(folder: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(RegistryError) as caught:
        load_registry(folder)
    return [(Path(p.file).name, p.code, p.field) for p in caught.value.problems], caught.value


BAD_ENTRIES = {
    "duplicate code": ({"code": "BC.1"}, ("background_context.yaml", "BC.1", "code"), "duplicate code"),
    "wrong prefix": ({"code": "SA.90"}, ("background_context.yaml", "SA.90", "code"),
                     "prefix SA does not match group background_context"),
    "code not GROUP.N": ({"code": "BC-90"}, ("background_context.yaml", "BC-90", "code"), "str_matches"),
    "unknown unit": ({"unit": "percentage"}, ("background_context.yaml", "BC.90", "unit"), "isin"),
    "unknown method": ({"method": "median"}, ("background_context.yaml", "BC.90", "method"), "isin"),
    "unknown variable": ({"value": "internet_user_pct * 2"}, ("background_context.yaml", "BC.90", "value"),
                         'unknown variable "internet_user_pct"'),
    "unknown variable in a universe": ({"universe": "year > 2000 AND region = 'AFR'"},
                                       ("background_context.yaml", "BC.90", "universe"), 'unknown variable "region"'),
    "universe that is not a condition": ({"universe": "year + 1"}, ("background_context.yaml", "BC.90", "universe"),
                                         "must be a boolean condition"),
    "disallowed disaggregation": ({"disaggregations": ["sex"]},
                                  ("background_context.yaml", "BC.90", "disaggregations"),
                                  "sex not allowed for source ict_country_year"),
    "missing required field": ({"definition": ...}, ("background_context.yaml", "BC.90", "definition"),
                               "required field is missing"),
    "unknown field": ({"numerator_expr": "x"}, ("background_context.yaml", "BC.90", "numerator_expr"),
                      "unknown field"),
    "field the method does not use": ({"numerator": "internet_users_pct > 50"},
                                      ("background_context.yaml", "BC.90", "numerator"), "not used by method value"),
    "unknown source": ({"source": "school_survey"}, ("background_context.yaml", "BC.90", "source"),
                       "not a harmonised source"),
    "bad growth": ({"method": "growth", "growth": {"kind": "cagr", "periods": 0}},
                   ("background_context.yaml", "BC.90", "growth"), "whole periods >= 1"),
    "bad reliability": ({"reliability": {"min_n": 50, "flag_n": 30}},
                        ("background_context.yaml", "BC.90", "reliability"), "flag_n must be >= min_n"),
    "unknown aggregation method": ({"aggregation": {"method": "median"}},
                                   ("background_context.yaml", "BC.90", "aggregation"), "'median' is not one of"),
    "aggregation without its weight": ({"aggregation": {"method": "weighted_mean"}},
                                       ("background_context.yaml", "BC.90", "aggregation"),
                                       "key 'weight' is required by aggregation method weighted_mean"),
    "unknown aggregation weight": ({"aggregation": {"method": "sum", "weight": "households"}},
                                   ("background_context.yaml", "BC.90", "aggregation"),
                                   "weight 'households' is not one of"),
    "no aggregation without a reason": ({"aggregation": {"method": "none"}},
                                        ("background_context.yaml", "BC.90", "aggregation"),
                                        "key 'reason' is required"),
}


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_each_kind_of_bad_entry_gets_its_own_error(case, tmp_path):
    changes, where, rule = BAD_ENTRIES[case]
    found, error = problems_of(registry_with(tmp_path, **changes))
    assert found == [where], str(error)
    assert rule in str(error)
    assert str(error).count("background_context.yaml") >= 1


def test_proportion_needs_a_boolean_numerator(tmp_path):
    found, error = problems_of(registry_with(tmp_path, code="SA.90", **{"method": "proportion", "value": ...,
                                                                         "numerator": "year + 1"}))
    # the code is also in the wrong file for its prefix: both problems are reported, each on its field
    assert ("background_context.yaml", "SA.90", "numerator") in found
    assert "must be a boolean condition, but is" in str(error)


def test_all_problems_are_reported_at_once(tmp_path):
    folder = registry_with(tmp_path, unit="percentage", value="nonexistent")
    found, _ = problems_of(folder)
    assert sorted(f for _, _, f in found) == ["unit", "value"]


# ----------------------------------------------------------------------------------------------- catalogue
def test_committed_catalogue_document_is_up_to_date():
    assert DOCS_PATH.read_text(encoding="utf-8") == render_markdown(load_registry()), (
        "docs/indicators.md is out of date: run `.venv/bin/cop indicators docs`")


def test_catalogue_matches_the_registry():
    registry = load_registry()
    frame = catalogue_frame(registry)
    derived = frame["derived_from"].notna()
    assert list(frame.loc[~derived, "code"]) == [i.code for i in registry]
    # every survey proportion by sex has its parity index, every one by urbanisation its urban-rural gap
    assert set(frame.loc[derived, "code"]) == (
        {f"{i.code}_GPI" for i in registry if i.method == "proportion" and "sex" in i.disaggregations}
        | {f"{i.code}_URG" for i in registry if i.method == "proportion" and "urbanisation" in i.disaggregations})
    assert frame.set_index("code").loc["BC.1", "aggregation"].startswith("computed from group inputs")
    text = render_markdown(registry)
    for group in GROUP_PREFIXES:
        n = sum(1 for i in registry if i.group == group)
        assert f"#{group.replace('_', '-')}) | {n} |" in text
    for i in registry:
        assert f"### {i.code} {i.name}" in text
    ir12 = frame.set_index("code").loc["IR.12"]
    assert "not" in ir12["caveats"].lower() and "prevalence" in ir12["caveats"].lower()


def test_cli_lists_and_shows_indicators(capsys):
    assert cli.main(["indicators", "list", "--group", "risk_behaviour"]) == 0
    out = capsys.readouterr().out
    codes = re.findall(r"^\s+(RB\.\d+)\s", out, re.M)
    assert codes == [i.code for i in load_registry() if i.group == "risk_behaviour"]
    assert cli.main(["indicators", "show", "BC.10"]) == 0
    out = capsys.readouterr().out
    assert "percentage_points" in out and "difference" in out and "background_context.yaml" in out
    assert cli.main(["indicators", "show", "ZZ.1"]) == 2
    assert cli.main(["indicators", "list", "--group", "nope"]) == 2


# ------------------------------------------------------------------------- a new indicator, no Python change
def _round(value: float, decimals: int) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def test_a_new_registry_entry_is_computed_and_published_by_the_normal_build(tmp_path):
    folder = registry_with(
        tmp_path, code="BC.90", name="Mobile-broadband subscriptions per 100 mobile-cellular subscriptions",
        definition="Active mobile-broadband subscriptions as a share of mobile-cellular subscriptions, in percent.",
        value="100 * mobile_broadband_per_100 / mobile_cellular_per_100",
        universe="mobile_cellular_per_100 > 0", decimals=1)
    (tmp_path / "mappings").mkdir()  # no survey delivery: the ICT entry is what this test is about
    (tmp_path / "dagster.yaml").write_text((Path(__file__).resolve().parents[1] / "dagster.yaml").read_text())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(tmp_path))
        patch.setenv("COP_DAGSTER_STATE", str(tmp_path / ".dagster"))
        assert cli.main(["build", "--registry", str(folder), "--out", str(tmp_path / "published"),
                         "--warehouse", str(tmp_path / "w.duckdb"), "--mappings", str(tmp_path / "mappings"),
                         "--release-id", "with-bc90"]) == 0
    release = tmp_path / "published" / "with-bc90"
    obs = pd.read_parquet(release / "observations.parquet")
    published = obs[obs["INDICATOR"] == "BC.90"].set_index(["REF_AREA", "TIME_PERIOD"])["OBS_VALUE"]
    sample = pd.read_csv(SAMPLE).dropna(subset=["mobile_broadband_per_100", "mobile_cellular_per_100"])
    sample = sample[sample["mobile_cellular_per_100"] > 0]
    assert len(published) == len(sample) > 1000
    for row in sample.sample(50, random_state=1).itertuples():
        expected = _round(100 * row.mobile_broadband_per_100 / row.mobile_cellular_per_100, 1)
        assert published.loc[(row.ref_area, row.year)] == expected
    catalogue = pd.read_parquet(release / "catalogue.parquet").set_index("code")
    assert catalogue.loc["BC.90", "unit"] == "percent"


def test_the_registry_is_read_once_while_its_files_stay_the_same(tmp_path, monkeypatch):
    """A build asks for the registry several times: the folder is read and checked once, an edited file is seen at
    once (its content is the key, not its time), and a broken registry is refused every time it is asked for."""
    import indicators.registry as registry_module

    folder = tmp_path / "registry"
    shutil.copytree(REGISTRY_DIR, folder)
    reads = []
    read_file = registry_module._read_file
    monkeypatch.setattr(registry_module, "_read_file", lambda path, problems: reads.append(path.name)
                        or read_file(path, problems))
    first = load_registry(folder)
    assert load_registry(folder) == first and len(reads) == len(list(folder.glob("*.yaml")))

    path = folder / "background_context.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("decimals: 1", "decimals: 2", 1), encoding="utf-8")   # same size, same second
    before, edited = {i.code: i for i in first}, {i.code: i for i in load_registry(folder)}
    changed = [code for code in edited if edited[code].decimals != before[code].decimals]
    assert len(changed) == 1 and before[changed[0]].decimals == 1 and edited[changed[0]].decimals == 2

    path.write_text(text + "\n  - code: BC.1\n", encoding="utf-8")   # not a valid entry
    for _ in range(2):
        with pytest.raises(RegistryError):
            load_registry(folder)
