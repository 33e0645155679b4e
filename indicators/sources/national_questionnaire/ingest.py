"""The questionnaire deliveries of a build: the sources manifest's `questionnaire:` key, and every response file read
into raw.questionnaire_answers (one row per country, round and question, with the cell it came from) and
raw.questionnaire_files (provenance with sha256).

    questionnaire:
      - file: questionnaire/responses_2009.csv     # or one filled Excel form per country (form_KEN.xlsx)
        round: 2009
        description: ...
        citation: ...
        licence: ...
        synthetic: true

Every file is read and every bad answer collected before anything is written: a bad file fails the build with one
message per bad cell (sheet, cell, question, rule) and the previous raw tables, and the last release, stay as they
were. A country answering twice in a round, in one file or in two, is an error naming both places.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from indicators import tables
from indicators.errors import ConfigError, InputError
from indicators.files import sha256_file
from indicators.sources.manifest import manifest_path, read_manifest
from indicators.sources.national_questionnaire.definition import Questionnaire
from indicators.sources.national_questionnaire.reader import check_one_response_per_country, read_response_file

QUESTIONNAIRE_KEY = "questionnaire"
ENTRY_KEYS = ("file", "round", "description", "citation", "licence", "synthetic", "generator", "seed")
ANSWER_COLUMNS = {"source_id": "VARCHAR", "round": "BIGINT", "country": "VARCHAR", "question_id": "VARCHAR",
                  "answer": "VARCHAR", "location": "VARCHAR"}
FILE_COLUMNS = {"source_id": "VARCHAR", "path": "VARCHAR", "layout": "VARCHAR", "kind": "VARCHAR",
                "round": "BIGINT", "countries": "BIGINT", "rows": "BIGINT", "sha256": "VARCHAR", "bytes": "BIGINT",
                "synthetic": "BOOLEAN", "licence": "VARCHAR", "description": "VARCHAR", "citation": "VARCHAR",
                "loaded_at": "VARCHAR"}


@dataclass(frozen=True)
class QuestionnaireDelivery:
    """One response file of the manifest and the round it answers."""

    path: Path
    round: int
    description: str = ""
    citation: str = ""
    licence: str = ""
    synthetic: bool = False

    @property
    def source_id(self) -> str:
        return self.path.stem


def questionnaire_deliveries(sources_dir: Path, manifest: Path | str | None, questionnaire: Questionnaire
                             ) -> list[QuestionnaireDelivery]:
    """The response files the manifest lists under `questionnaire:`; [] without a manifest or the key."""
    path = manifest_path(Path(sources_dir), manifest)
    if path is None:
        return []
    spec = read_manifest(path)
    entries = spec.get(QUESTIONNAIRE_KEY)
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: key '{QUESTIONNAIRE_KEY}' must be a list of response files")
    deliveries, seen = [], {}
    for i, entry in enumerate(entries):
        where = f"{path}: {QUESTIONNAIRE_KEY}[{i}]"
        if not isinstance(entry, dict) or not entry.get("file"):
            raise ConfigError(f"{where}: each response file needs a 'file' key")
        where += f" ({entry['file']})"
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (expected {', '.join(ENTRY_KEYS)})")
        round_ = entry.get("round")
        if round_ not in questionnaire.rounds:
            raise ConfigError(f"{where}.round: {round_!r} is not a round of the questionnaire (rounds: "
                              f"{', '.join(str(r) for r in questionnaire.rounds)})")
        file = (Path(sources_dir) / str(entry["file"])).resolve()
        if not file.is_file():
            raise ConfigError(f"{where}.file: {file} does not exist")
        delivery = QuestionnaireDelivery(file, int(round_), str(entry.get("description", "")),
                                         str(entry.get("citation", "")), str(entry.get("licence", "")),
                                         bool(entry.get("synthetic", spec.get("synthetic", False))))
        if delivery.source_id in seen:
            raise ConfigError(f"{where}: the file name (source id {delivery.source_id!r}) is already used by "
                              f"{QUESTIONNAIRE_KEY}[{seen[delivery.source_id]}]")
        seen[delivery.source_id] = i
        deliveries.append(delivery)
    return deliveries


def load_raw_questionnaire(con, deliveries: list[QuestionnaireDelivery], questionnaire: Questionnaire) -> list[dict]:
    """Read every response file into raw.questionnaire_answers and raw.questionnaire_files; returns the provenance.
    All bad answers of all files are raised together (InputError) before anything is written."""
    from indicators.warehouse import write_typed_table  # local: the reader stays importable without a warehouse

    files, violations = [], []
    for delivery in deliveries:
        try:
            files.append((delivery, read_response_file(delivery.path, questionnaire, delivery.round,
                                                       delivery.source_id)))
        except InputError as error:
            violations += error.violations
    if violations:
        raise InputError(violations)
    check_one_response_per_country([read for _, read in files])
    provenance = [{"source_id": d.source_id, "path": str(d.path), "layout": read.layout, "kind": "questionnaire",
                   "round": d.round, "countries": len(read.countries), "rows": len(read.answers),
                   "sha256": sha256_file(d.path), "bytes": d.path.stat().st_size, "synthetic": d.synthetic,
                   "licence": d.licence, "description": d.description, "citation": d.citation,
                   "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")} for d, read in files]
    answers = (pd.concat([read.answers for _, read in files], ignore_index=True) if files
               else pd.DataFrame(columns=list(ANSWER_COLUMNS)))
    write_typed_table(con, tables.RAW_QUESTIONNAIRE_ANSWERS, ANSWER_COLUMNS, answers)
    write_typed_table(con, tables.RAW_QUESTIONNAIRE_FILES, FILE_COLUMNS,
                      pd.DataFrame(provenance, columns=list(FILE_COLUMNS)))
    return provenance
