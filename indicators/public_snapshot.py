"""Make data/public/: the small, dated snapshot of real public inputs that the default build reads.

    python -m indicators.public_snapshot [--shared ../shared/data] [--out data/public]

Files are copied byte for byte from the shared folder, except the UN WPP 2017 age-group file (2.5 MB), of which only
the columns and years the build reads are kept: Entity, Year and "Under 15 years old" for 1960 (the pipeline's
first year) to the snapshot year. data/public/README.md gives each file's source, licence, retrieval date and
sha256 (of the upstream file and of the file as kept); a test checks those checksums against the files.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
COPIED = ["ict/wdi_IT.NET.USER.ZS_wide_2024.csv", "ict/wdi_IT.CEL.SETS.P2_wide_2023.csv",
          "ict/owid_fixed_broadband_per_100.csv", "ict/population_total_wb.csv",
          "cop/ncmec_ocse-reports-per-country.csv"]
WPP = "ict/owid_unwpp2017_population_by_age_group.csv"
WPP_KEPT_COLUMNS = ["Entity", "Year", "Under 15 years old (UNWPP, 2017)"]
FIRST_YEAR, SNAPSHOT_YEAR = 1960, 2026


def trim_wpp(text: str) -> str:
    """The WPP file with only the columns and years the build reads, in the original row order and quoting."""
    rows = csv.DictReader(io.StringIO(text))
    out = io.StringIO()
    writer = csv.DictWriter(out, WPP_KEPT_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        if FIRST_YEAR <= int(row["Year"]) <= SNAPSHOT_YEAR:
            writer.writerow(row)
    return out.getvalue()


def make_snapshot(shared: Path, out: Path) -> list[Path]:
    written = []
    for name in COPIED:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / name, target)
        written.append(target)
    target = out / WPP.replace(".csv", "_under15.csv")
    target.write_text(trim_wpp((shared / WPP).read_text(encoding="utf-8")), encoding="utf-8")
    written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "public")
    args = parser.parse_args()
    for path in make_snapshot(args.shared, args.out):
        print(path)


if __name__ == "__main__":
    main()
