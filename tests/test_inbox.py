"""The delivery inbox and the content-addressed source store (indicators/inbox.py).

Every test writes small mapping specs and dropped files into tmp_path, sweeps the inbox and looks at what moved
where: the store's objects (bytes and sha256 computed here with hashlib), its index deliveries.jsonl, and
inbox/rejected/ with its reason files. All sweeps use one fixed time, so index lines and reason files are known
in full.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml

from indicators.errors import InputError
from indicators.inbox import (INDEX_COLUMNS, current_delivery, store_history, sweep_inbox,
                              unsafe_name_reason)

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
NOW_TEXT = "2024-05-01T12:00:00+00:00"  # UTC, to the second
BRA_1 = b"quest;sexo;peso\n1;1;100\n2;2;120\n"
BRA_2 = b"quest;sexo;peso\n1;1;100\n2;2;125\n"  # a revision: one weight changed


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_spec(mappings: Path, source_id: str, file: str) -> Path:
    path = mappings / f"child_survey_{source_id}.yaml"
    path.write_text(yaml.safe_dump({"source_id": source_id, "target": "child_survey", "file": file,
                                    "format": Path(file).suffix.lstrip(".")}))
    return path


@pytest.fixture
def place(tmp_path):
    """(inbox, store, specs): two specs whose files sit in a folder next to the mappings (not yet written)."""
    mappings, inbox = tmp_path / "mappings", tmp_path / "inbox"
    mappings.mkdir()
    inbox.mkdir()
    specs = {"bra_2023": write_spec(mappings, "bra_2023", "../microdata/bra_2023.csv"),
             "egy_2023": write_spec(mappings, "egy_2023", "../microdata/egypt_wave2.sav")}
    return inbox, tmp_path / "store", specs


def drop(inbox: Path, name: str | bytes, data: bytes) -> None:
    """A file dropped into the inbox; a bytes name is written as is (for names that are not UTF-8)."""
    target = os.path.join(os.fsencode(inbox), name) if isinstance(name, bytes) else inbox / name
    with open(target, "wb") as fh:
        fh.write(data)


def index_lines(store: Path) -> list[dict]:
    return [json.loads(line) for line in (store / "deliveries.jsonl").read_text(encoding="utf-8").splitlines()]


def reason_of(inbox: Path, stored_name: str) -> list[str]:
    return (inbox / "rejected" / f"{stored_name}.reason.txt").read_text(encoding="utf-8").splitlines()


# --- accepted files -----------------------------------------------------------------------------------------------

def test_a_matching_file_is_moved_into_the_store_under_its_sha256(place):
    inbox, store, specs = place
    drop(inbox, "bra_2023.csv", BRA_1)
    result = sweep_inbox(inbox, store, specs, now=NOW)

    digest = sha(BRA_1)
    obj = store / "objects" / digest[:2] / f"{digest}.csv"
    assert [(a.source_id, a.sha256, a.stored, a.original_name) for a in result.accepted] == [
        ("bra_2023", digest, obj, "bra_2023.csv")]
    assert result.rejected == [] and result.notes == []
    assert obj.read_bytes() == BRA_1
    assert hashlib.sha256(obj.read_bytes()).hexdigest() == digest
    assert index_lines(store) == [{"source_id": "bra_2023", "sha256": digest, "bytes": len(BRA_1),
                                   "original_name": "bra_2023.csv", "stored_as": f"objects/{digest[:2]}/{digest}.csv",
                                   "received_at": NOW_TEXT}]
    assert list(inbox.iterdir()) == []  # moved, not copied; no rejected/ folder either
    assert [p.name for p in obj.parent.iterdir()] == [obj.name]  # no temporary file left next to it
    assert current_delivery(store, "bra_2023") == obj


def test_a_file_whose_stem_is_a_source_id_matches_and_its_suffix_is_lowercased(place):
    inbox, store, specs = place
    drop(inbox, "egy_2023.SAV", b"spss bytes")  # the spec names egypt_wave2.sav; the stem is the source_id
    result = sweep_inbox(inbox, store, specs, now=NOW)
    digest = sha(b"spss bytes")
    assert [(a.source_id, a.stored.name) for a in result.accepted] == [("egy_2023", f"{digest}.sav")]
    assert index_lines(store)[0]["original_name"] == "egy_2023.SAV"


def test_ignored_names_stay_in_the_inbox_untouched(place):
    inbox, store, specs = place
    for name in (".hidden.csv", "..evil.csv", "bra_2023.csv.part", ".bra_2023.csv.Xa81"):
        drop(inbox, name, BRA_1)
    (inbox / "sub").mkdir()
    drop(inbox / "sub", "bra_2023.csv", BRA_1)  # top level only
    result = sweep_inbox(inbox, store, specs, now=NOW)
    assert result.accepted == [] and result.rejected == []
    assert sorted(p.name for p in inbox.iterdir()) == ["..evil.csv", ".bra_2023.csv.Xa81", ".hidden.csv",
                                                       "bra_2023.csv.part", "sub"]
    assert (inbox / "sub" / "bra_2023.csv").read_bytes() == BRA_1
    assert not (store / "deliveries.jsonl").exists()


# --- duplicates and revisions -------------------------------------------------------------------------------------

def test_the_same_content_again_is_a_duplicate_and_a_revision_becomes_the_current_delivery(place):
    inbox, store, specs = place
    drop(inbox, "bra_2023.csv", BRA_1)
    first = sweep_inbox(inbox, store, specs, now=NOW).accepted[0].stored

    drop(inbox, "bra_2023.csv", BRA_1)
    again = sweep_inbox(inbox, store, specs, now=NOW)
    assert again.accepted == []
    [rejected] = again.rejected
    digest = sha(BRA_1)
    assert rejected.reason == (f"duplicate of the delivery of bra_2023 received {NOW_TEXT} as 'bra_2023.csv', "
                               f"stored as objects/{digest[:2]}/{digest}.csv (sha256 {digest})")
    assert rejected.moved_to == inbox / "rejected" / "bra_2023.csv"
    assert rejected.moved_to.read_bytes() == BRA_1
    assert reason_of(inbox, "bra_2023.csv") == ["file: bra_2023.csv", f"time: {NOW_TEXT}",
                                                f"reason: {rejected.reason}"]

    later = NOW + timedelta(days=3)
    drop(inbox, "bra_2023.csv", BRA_2)
    revision = sweep_inbox(inbox, store, specs, now=later)
    digest_2 = sha(BRA_2)
    second = store / "objects" / digest_2[:2] / f"{digest_2}.csv"
    assert [(a.source_id, a.stored) for a in revision.accepted] == [("bra_2023", second)]
    assert current_delivery(store, "bra_2023") == second
    assert first.read_bytes() == BRA_1  # the earlier delivery is kept
    assert current_delivery(store, "egy_2023") is None

    history = store_history(store)
    assert list(history.columns) == list(INDEX_COLUMNS)
    assert history["sha256"].tolist() == [digest, digest_2]
    assert history["bytes"].tolist() == [len(BRA_1), len(BRA_2)]
    assert history["received_at"].tolist() == [pd.Timestamp("2024-05-01T12:00:00", tz="UTC"),
                                              pd.Timestamp("2024-05-04T12:00:00", tz="UTC")]


def test_a_duplicate_under_another_source_and_within_one_sweep_is_rejected(place):
    inbox, store, specs = place
    drop(inbox, "bra_2023.csv", BRA_1)
    drop(inbox, "egy_2023.csv", BRA_1)  # same bytes, other source, same sweep (handled after bra_2023.csv)
    result = sweep_inbox(inbox, store, specs, now=NOW)
    assert [a.original_name for a in result.accepted] == ["bra_2023.csv"]
    assert [(r.name, r.reason.split(" received")[0]) for r in result.rejected] == [
        ("egy_2023.csv", "duplicate of the delivery of bra_2023")]
    assert len(index_lines(store)) == 1


def test_a_copy_of_the_file_the_spec_already_names_is_a_duplicate(place):
    inbox, store, specs = place
    named = specs["bra_2023"].parent.parent / "microdata" / "bra_2023.csv"
    named.parent.mkdir()
    named.write_bytes(BRA_1)
    drop(inbox, "bra_2023.csv", BRA_1)
    [rejected] = sweep_inbox(inbox, store, specs, now=NOW).rejected
    assert rejected.reason == (f"duplicate of {named}, the file mapping spec child_survey_bra_2023.yaml names for "
                               f"bra_2023 (sha256 {sha(BRA_1)})")
    assert not (store / "deliveries.jsonl").exists()


# --- rejected files -----------------------------------------------------------------------------------------------

def test_a_file_no_spec_names_is_rejected_with_a_reason_naming_it(place):
    inbox, store, specs = place
    drop(inbox, "ken_2023.csv", b"x")
    [rejected] = sweep_inbox(inbox, store, specs, now=NOW).rejected
    assert rejected.reason == ("no mapping spec names this file (ken_2023.csv); expected one of bra_2023.csv, "
                               "egypt_wave2.sav, or a name whose stem is a spec's source_id")
    assert rejected.moved_to.read_bytes() == b"x"
    assert reason_of(inbox, "ken_2023.csv") == ["file: ken_2023.csv", f"time: {NOW_TEXT}",
                                                f"reason: {rejected.reason}"]
    assert sorted(p.name for p in inbox.iterdir()) == ["rejected"]


@pytest.mark.parametrize("name, rule", [
    ("bra_2023.csv", None),
    ("bra 2023 (final).csv", None),
    ("ça_va_2023.csv", None),
    ("bra..2023.csv", "contains '..'"),  # '..' anywhere, not only as a path component
    ("bra_2023.csv..", "contains '..'"),
    ("bra\n2023.csv", "contains the control character U+000A (unnamed)"),
    ("bra\t2023.csv", "contains the control character U+0009 (unnamed)"),
    ("bra_2023\u202ecsv.exe", "contains the control character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("bra\\2023.csv", "contains a path separator ('/' or '\\')"),
    ("-rf.csv", "starts with '-' (command-line tools would read it as an option)"),
    ("a" * 200, None),
    ("a" * 201, "is 201 characters long (at most 200)"),
    (os.fsdecode(b"bra\xff.csv"), "is not valid UTF-8 text"),
])
def test_unsafe_name_rules(name, rule):
    assert unsafe_name_reason(name) == rule


def test_unsafe_names_are_rejected_under_sanitised_names_and_the_sweep_goes_on(place):
    inbox, store, specs = place
    drop(inbox, "-bra_2023.csv", b"1")
    drop(inbox, "bra\n2023.csv", b"2")
    drop(inbox, "bra..2023.csv", b"3")  # sanitised to the same name as the one above: gets a numeric suffix
    drop(inbox, b"bra\xff\xfe.csv", b"4")
    drop(inbox, "b" * 201 + ".csv", b"5")
    drop(inbox, "egy_2023.sav", b"good")  # sorts after the bad ones
    result = sweep_inbox(inbox, store, specs, now=NOW)

    assert [(a.source_id, a.original_name) for a in result.accepted] == [("egy_2023", "egy_2023.sav")]
    moved = {r.name: r.moved_to.name for r in result.rejected}
    assert moved == {"-bra_2023.csv": "_bra_2023.csv", "bra\n2023.csv": "bra_2023.csv",
                     "bra..2023.csv": "bra_2023.1.csv", os.fsdecode(b"bra\xff\xfe.csv"): "bra__.csv",
                     "b" * 201 + ".csv": "b" * 196 + ".csv"}  # cut to 200 bytes, extension kept
    rejected = inbox / "rejected"
    assert {n: (rejected / n).read_bytes() for n in moved.values()} == {
        "_bra_2023.csv": b"1", "bra_2023.csv": b"2", "bra_2023.1.csv": b"3", "bra__.csv": b"4",
        "b" * 196 + ".csv": b"5"}
    assert reason_of(inbox, "bra_2023.csv") == [
        "file: 'bra\\n2023.csv'", "stored here as: bra_2023.csv", f"time: {NOW_TEXT}",
        "reason: unsafe file name 'bra\\n2023.csv': contains the control character U+000A (unnamed)"]
    assert reason_of(inbox, "bra__.csv")[0] == "file: 'bra\\udcff\\udcfe.csv'"
    assert reason_of(inbox, "bra__.csv")[-1].endswith("is not valid UTF-8 text")
    assert reason_of(inbox, "_bra_2023.csv")[-1] == ("reason: unsafe file name '-bra_2023.csv': starts with '-' "
                                                     "(command-line tools would read it as an option)")
    assert sorted(os.listdir(inbox)) == ["rejected"]


def test_symbolic_links_and_empty_files_are_rejected(place, tmp_path):
    inbox, store, specs = place
    outside = tmp_path / "secret.csv"
    outside.write_bytes(b"not a delivery")
    (inbox / "bra_2023.csv").symlink_to(outside)
    drop(inbox, "egy_2023.sav", b"")
    result = sweep_inbox(inbox, store, specs, now=NOW)
    assert result.accepted == []
    assert [(r.name, r.reason) for r in result.rejected] == [
        ("bra_2023.csv", "bra_2023.csv is a symbolic link, not a file; deliver the file itself"),
        ("egy_2023.sav", "egy_2023.sav is empty (0 bytes); an upload probably failed")]
    assert (inbox / "rejected" / "bra_2023.csv").is_symlink()  # the link moved, its target untouched
    assert outside.read_bytes() == b"not a delivery"


def test_a_rejected_name_that_is_taken_gets_a_numeric_suffix(place):
    inbox, store, specs = place
    rejected = inbox / "rejected"
    rejected.mkdir()
    (rejected / "ken_2023.csv").write_bytes(b"older")
    (rejected / "ken_2023.1.csv.reason.txt").write_text("a reason whose file was deleted")
    drop(inbox, "ken_2023.csv", b"newer")
    [first] = sweep_inbox(inbox, store, specs, now=NOW).rejected
    drop(inbox, "ken_2023.csv", b"newest")
    [second] = sweep_inbox(inbox, store, specs, now=NOW).rejected

    # .1 is skipped because its reason file exists: a file never sits next to another file's reason
    assert (first.moved_to.name, second.moved_to.name) == ("ken_2023.2.csv", "ken_2023.3.csv")
    assert (rejected / "ken_2023.csv").read_bytes() == b"older"
    assert (rejected / "ken_2023.1.csv.reason.txt").read_text() == "a reason whose file was deleted"
    assert (first.moved_to.read_bytes(), second.moved_to.read_bytes()) == (b"newer", b"newest")
    assert reason_of(inbox, "ken_2023.2.csv")[:2] == ["file: ken_2023.csv", "stored here as: ken_2023.2.csv"]


# --- the store is never overwritten -------------------------------------------------------------------------------

def test_an_existing_object_with_other_bytes_is_never_overwritten(place):
    inbox, store, specs = place
    digest = sha(BRA_1)
    obj = store / "objects" / digest[:2] / f"{digest}.csv"
    obj.parent.mkdir(parents=True)
    obj.write_bytes(b"damaged")
    drop(inbox, "bra_2023.csv", BRA_1)
    result = sweep_inbox(inbox, store, specs, now=NOW)

    assert result.accepted == []
    [rejected] = result.rejected
    assert rejected.reason == (f"the store already holds objects/{digest[:2]}/{digest}.csv with other content "
                               f"(sha256 {sha(b'damaged')}, expected {digest}); an object is never overwritten, so "
                               "the store needs checking before this file can go in")
    assert obj.read_bytes() == b"damaged"
    assert rejected.moved_to.read_bytes() == BRA_1
    assert not (store / "deliveries.jsonl").exists()
    assert current_delivery(store, "bra_2023") is None


def test_an_object_left_without_its_index_line_is_adopted(place):
    """A sweep interrupted between placing the object and writing its line: the re-delivered file completes it."""
    inbox, store, specs = place
    digest = sha(BRA_1)
    obj = store / "objects" / digest[:2] / f"{digest}.csv"
    obj.parent.mkdir(parents=True)
    obj.write_bytes(BRA_1)
    (store / "deliveries.jsonl").write_text('{"source_id": "bra_2023", "sha2')  # the append cut short
    drop(inbox, "bra_2023.csv", BRA_1)
    result = sweep_inbox(inbox, store, specs, now=NOW)

    assert [a.stored for a in result.accepted] == [obj]
    # the cut-short line is dropped and the new one is whole, not glued to it
    assert [line["sha256"] for line in index_lines(store)] == [digest]
    assert current_delivery(store, "bra_2023") == obj
    assert list(inbox.iterdir()) == []


def test_a_whole_last_index_line_without_its_newline_is_kept(place):
    inbox, store, specs = place
    store.mkdir()
    earlier = {"source_id": "egy_2023", "sha256": "cd" * 32, "bytes": 3, "original_name": "egy_2023.sav",
               "stored_as": f"objects/cd/{'cd' * 32}.sav", "received_at": "2024-04-01T08:00:00+00:00"}
    (store / "deliveries.jsonl").write_text(json.dumps(earlier))  # saved by an editor without a final newline
    drop(inbox, "bra_2023.csv", BRA_1)
    sweep_inbox(inbox, store, specs, now=NOW)
    assert [(line["source_id"], line["sha256"]) for line in index_lines(store)] == [
        ("egy_2023", "cd" * 32), ("bra_2023", sha(BRA_1))]


def test_a_broken_index_line_stops_the_sweep_before_any_file_moves(place):
    inbox, store, specs = place
    store.mkdir()
    (store / "deliveries.jsonl").write_text('not json\n{"source_id": "x"}\n')
    drop(inbox, "bra_2023.csv", BRA_1)
    with pytest.raises(InputError, match=r"deliveries.jsonl, row 1: not a JSON line"):
        sweep_inbox(inbox, store, specs, now=NOW)
    assert (inbox / "bra_2023.csv").read_bytes() == BRA_1


def test_an_index_line_naming_a_missing_object_is_an_error(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    entry = {"source_id": "bra_2023", "sha256": "ab" * 32, "bytes": 3, "original_name": "bra_2023.csv",
             "stored_as": f"objects/ab/{'ab' * 32}.csv", "received_at": NOW_TEXT}
    (store / "deliveries.jsonl").write_text(json.dumps(entry) + "\n")
    with pytest.raises(InputError, match=r"row 1: the latest delivery of bra_2023 is stored as objects/ab/"):
        current_delivery(store, "bra_2023")


def test_an_empty_store_has_no_delivery_and_an_empty_history(tmp_path):
    assert current_delivery(tmp_path / "store", "bra_2023") is None
    history = store_history(tmp_path / "store")
    assert list(history.columns) == list(INDEX_COLUMNS) and len(history) == 0
    assert str(history["received_at"].dtype) == "datetime64[ns, UTC]"


def test_a_name_two_specs_claim_is_rejected(place):
    inbox, store, specs = place
    specs = dict(specs, kids=write_spec(specs["bra_2023"].parent, "kids", "../microdata/kids_survey.csv"),
                 zzz_2023=write_spec(specs["bra_2023"].parent, "zzz_2023", "../microdata/kids.csv"))
    drop(inbox, "kids.csv", b"x")  # zzz_2023's file name, and kids's source_id as its stem
    [rejected] = sweep_inbox(inbox, store, specs, now=NOW).rejected
    assert rejected.reason == ("kids.csv matches more than one mapping spec: child_survey_kids.yaml (kids), "
                               "child_survey_zzz_2023.yaml (zzz_2023)")


def test_a_file_that_changes_while_it_is_stored_is_rejected_and_leaves_nothing_in_the_store(place, monkeypatch):
    """Simulated by a first hash that differs from the bytes then copied (as when an upload is still writing)."""
    import indicators.inbox as inbox_module

    inbox, store, specs = place
    real = inbox_module._sha256
    monkeypatch.setattr(inbox_module, "_sha256", lambda path: ("0" * 64, len(BRA_1)) if path.parent == inbox
                        else real(path))
    drop(inbox, "bra_2023.csv", BRA_1)
    [rejected] = sweep_inbox(inbox, store, specs, now=NOW).rejected
    assert rejected.reason == (f"bra_2023.csv changed while it was being stored (its sha256 was {'0' * 64}, the "
                               f"copy's is {sha(BRA_1)}); upload it under a '.part' name and rename it when complete")
    assert [p for p in (store / "objects").rglob("*") if p.is_file()] == []  # no object, no temporary file
    assert not (store / "deliveries.jsonl").exists()


def test_without_hard_links_files_are_still_moved_and_never_replace_others(place, monkeypatch):
    """Some network file systems refuse hard links: the sweep falls back to rename after checking the name."""
    inbox, store, specs = place

    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (inbox / "rejected").mkdir()
    (inbox / "rejected" / "ken_2023.csv").write_bytes(b"older")
    drop(inbox, "bra_2023.csv", BRA_1)
    drop(inbox, "ken_2023.csv", b"newer")
    result = sweep_inbox(inbox, store, specs, now=NOW)
    assert [a.stored.read_bytes() for a in result.accepted] == [BRA_1]
    assert [r.moved_to.name for r in result.rejected] == ["ken_2023.1.csv"]
    assert (inbox / "rejected" / "ken_2023.csv").read_bytes() == b"older"
    assert sorted(p.name for p in inbox.iterdir()) == ["rejected"]
