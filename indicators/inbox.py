"""The delivery inbox and the content-addressed source store.

Survey microdata arrive as files that data providers drop into a folder. Before a build reads a delivery we want
to know exactly which bytes it read and when they came, to keep every version ever delivered (a revision never
silently replaces the file a published number came from), and to turn away files that cannot be built (no mapping
spec, an unsafe name, a repeat) with a note saying why, without one bad file holding up the others.

    inbox/<name>                         dropped files (top level only)
    inbox/rejected/<name>                files turned away, each next to <name>.reason.txt
    store/objects/<sha[:2]>/<sha><ext>   one object per distinct content, never overwritten
    store/deliveries.jsonl               one JSON line per accepted delivery, appended once its object is in place

Which files of the inbox a sweep looks at:
- ignored (left where they are): sub-folders (rejected/ among them), names starting with '.' (hidden files and the
  temporary names upload tools such as rsync write to) and names ending in '.part' (uploads still under way);
- rejected as unsafe names: not valid UTF-8 text; a control or format character (Unicode categories Cc, Cf, Zl,
  Zp: newlines, tabs, and the bidirectional overrides that can disguise an extension); a path separator ('/' or
  '\\'); '..' anywhere in the name, not only as a path component (no delivery needs it, and whether a later tool
  splits 'a..b' into components is not something this module can check); a leading '-' (read as an option by
  command-line tools); more than 200 characters. So `..evil.csv` is hidden (ignored) and `bra..2023.csv` unsafe;
- rejected too: symbolic links and other non-regular files, empty files, files no spec names, repeats of content
  the store or the spec's own file already holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import pandas as pd
import yaml

from indicators.files import load_yaml
from indicators.errors import ConfigError, InputError

INDEX_NAME = "deliveries.jsonl"
OBJECTS_DIR = "objects"
REJECTED_DIR = "rejected"
REASON_SUFFIX = ".reason.txt"
PARTIAL_SUFFIX = ".part"
MAX_NAME_CHARS = 200
# a rejected file keeps its name when it is safe and short: with ".reason.txt" and a numeric suffix added it
# stays under the 255-byte name limit of common file systems
MAX_REJECTED_NAME_BYTES = 200
INDEX_COLUMNS = ("source_id", "sha256", "bytes", "original_name", "stored_as", "received_at")
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_BLOCK = 1 << 20  # read files in 1 MiB blocks: deliveries can be larger than memory


@dataclass(frozen=True)
class Accepted:
    """A file that is now an object of the store and a line of its index."""

    source_id: str
    sha256: str
    stored: Path  # the object: store/objects/<sha[:2]>/<sha><ext>
    original_name: str


@dataclass(frozen=True)
class Rejected:
    """A file turned away: `name` as found in the inbox (undecodable bytes appear as surrogate escapes)."""

    name: str
    reason: str
    moved_to: Path | None  # inbox/rejected/<name>, or None when even that move failed (see SweepResult.notes)


@dataclass
class SweepResult:
    """What one sweep did, file by file, in name order."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # problems after a verdict (a move or a removal that failed)


@dataclass(frozen=True)
class _SpecFile:
    """A mapping spec and the data file it names (None when the spec has no readable `file`)."""

    source_id: str
    spec_path: Path
    named: Path | None


class _Refused(Exception):
    """This file is rejected for the reason given; the sweep goes on with the next one."""


# --- the sweep ---------------------------------------------------------------------------------------------------

def sweep_inbox(inbox: Path, store: Path, specs: dict[str, Path], now: datetime | None = None) -> SweepResult:
    """Move every file of the inbox either into the store (with a line in its index) or into inbox/rejected/.

    `specs` is {source_id: spec path} (indicators.sources.survey_microdata.specs.find_specs); `now` is the time
    recorded for every file of this sweep (default: the current time; a naive datetime is taken as UTC). A broken
    store index stops the sweep before any file is touched, because repeats could not be recognised; anything
    wrong with one file only rejects that file.
    """
    inbox, store = Path(inbox), Path(store)
    if not inbox.is_dir():
        raise ConfigError(f"{inbox}: the inbox folder does not exist")
    received_at = _utc_seconds(now or datetime.now(timezone.utc))
    spec_files = [_spec_file(source_id, Path(path)) for source_id, path in sorted(specs.items())]
    known = {entry["sha256"]: entry for _, entry in _read_index(store)}
    spec_hashes: dict[Path, str | None] = {}
    result = SweepResult()
    for name in _candidates(inbox):
        path = inbox / name
        try:
            source_id, sha, size = _check(path, name, spec_files, known, spec_hashes)
            stored_as = _place_object(path, store, sha, size)
            entry = {"source_id": source_id, "sha256": sha, "bytes": size, "original_name": name,
                     "stored_as": stored_as, "received_at": received_at}
            _append_index(store, entry)
        except _Refused as refusal:
            result.rejected.append(_reject(inbox, name, str(refusal), received_at, result.notes))
            continue
        except (OSError, ValueError) as exc:
            reason = f"could not be stored: {exc}"
            result.rejected.append(_reject(inbox, name, reason, received_at, result.notes))
            continue
        known[sha] = entry
        result.accepted.append(Accepted(source_id, sha, store / stored_as, name))
        try:
            os.unlink(path)
        except OSError as exc:
            result.notes.append(f"{path}: stored as {stored_as} but could not be removed from the inbox ({exc}); "
                                "the next sweep will reject it as a duplicate")
    return result


def _candidates(inbox: Path) -> list[str]:
    """Top-level names to handle: not folders, not hidden, not partial uploads."""
    names = []
    with os.scandir(inbox) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name.lower().endswith(PARTIAL_SUFFIX):
                continue
            if entry.is_dir(follow_symlinks=False):
                continue
            names.append(entry.name)
    return sorted(names)


def _check(path: Path, name: str, spec_files: list[_SpecFile], known: dict[str, dict],
           spec_hashes: dict[Path, str | None]) -> tuple[str, str, int]:
    """(source_id, sha256, bytes) of a file the store may take; _Refused says why not."""
    unsafe = unsafe_name_reason(name)
    if unsafe:
        raise _Refused(f"unsafe file name {name!r}: {unsafe}")
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise _Refused(f"{name} is a symbolic link, not a file; deliver the file itself")
    if not stat.S_ISREG(info.st_mode):
        raise _Refused(f"{name} is not a regular file (a pipe, socket or device)")
    if info.st_size == 0:
        raise _Refused(f"{name} is empty (0 bytes); an upload probably failed")
    spec = _match(name, spec_files)
    sha, size = _sha256(path)
    if sha in known:
        entry = known[sha]
        raise _Refused(f"duplicate of the delivery of {entry['source_id']} received {entry['received_at']} as "
                       f"{entry['original_name']!r}, stored as {entry['stored_as']} (sha256 {sha})")
    if spec.named is not None:
        if spec.named not in spec_hashes:
            spec_hashes[spec.named] = _sha256(spec.named)[0] if spec.named.is_file() else None
        if spec_hashes[spec.named] == sha:
            raise _Refused(f"duplicate of {spec.named}, the file mapping spec {spec.spec_path.name} names for "
                           f"{spec.source_id} (sha256 {sha})")
    return spec.source_id, sha, size


def unsafe_name_reason(name: str) -> str | None:
    """Why a dropped file's name is unsafe to handle (module docstring lists the rules), or None if it is safe."""
    try:
        os.fsencode(name).decode("utf-8")
        name.encode("utf-8")
    except UnicodeError:
        return "is not valid UTF-8 text"
    for char in name:
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return f"contains the control character U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"
    if "/" in name or "\\" in name:
        return "contains a path separator ('/' or '\\')"
    if ".." in name:
        return "contains '..'"
    if name.startswith("-"):
        return "starts with '-' (command-line tools would read it as an option)"
    if len(name) > MAX_NAME_CHARS:
        return f"is {len(name)} characters long (at most {MAX_NAME_CHARS})"
    return None


def _spec_file(source_id: str, spec_path: Path) -> _SpecFile:
    """The spec and the data file it names, resolved against the spec's folder as the build does."""
    try:
        head = load_yaml(spec_path.read_text(encoding="utf-8"))
        named = Path(str(head["file"]))
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return _SpecFile(source_id, spec_path, None)  # still matched by source_id
    return _SpecFile(source_id, spec_path, named if named.is_absolute() else (spec_path.parent / named).resolve())


def _match(name: str, spec_files: list[_SpecFile]) -> _SpecFile:
    """The one spec whose `file` has this base name, or whose source_id is the name's stem."""
    stem = PurePosixPath(name).stem
    hits = [s for s in spec_files if (s.named is not None and s.named.name == name) or s.source_id == stem]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise _Refused(f"{name} matches more than one mapping spec: "
                       + ", ".join(f"{s.spec_path.name} ({s.source_id})" for s in hits))
    examples = sorted({s.named.name for s in spec_files if s.named is not None})
    shown = ", ".join(examples[:5]) + (f", ... ({len(examples)} in all)" if len(examples) > 5 else "")
    raise _Refused(f"no mapping spec names this file ({name}); expected one of {shown or '(no specs)'}, "
                   "or a name whose stem is a spec's source_id")


def _sha256(path: Path) -> tuple[str, int]:
    """sha256 and size of a file from one read. Not indicators.files.sha256_file: the size must be that of the
    bytes hashed (a file still being uploaded grows between a hash and a stat), and the store's copy is checked
    against both."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


# --- the store ---------------------------------------------------------------------------------------------------

def _place_object(path: Path, store: Path, sha: str, size: int) -> str:
    """Copy the file into the store as objects/<sha[:2]>/<sha><ext> and return that path relative to the store.

    The copy goes to a temporary name in the object's folder, is checked against the sha256 (a file still being
    written would differ) and then linked into place: a hard link fails when the name exists, so an object is never
    replaced, even by a concurrent sweep (os.replace, the fallback where links are not supported, would replace).
    An object already there with the same bytes is the leftover of a sweep interrupted before its index line; it
    is adopted. One with other bytes means a damaged store: the file is refused and the object left alone.
    """
    ext = PurePosixPath(path.name).suffix.lower()
    stored_as = f"{OBJECTS_DIR}/{sha[:2]}/{sha}{ext}"
    target = store / stored_as
    if _existing_object_is(target, sha, stored_as):
        return stored_as
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            digest = hashlib.sha256()
            for block in iter(lambda: src.read(_BLOCK), b""):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha or tmp.stat().st_size != size:
            raise _Refused(f"{path.name} changed while it was being stored (its sha256 was {sha}, the copy's is "
                           f"{digest.hexdigest()}); upload it under a '.part' name and rename it when complete")
        os.chmod(tmp, 0o444)  # objects are immutable
        try:
            os.link(tmp, target)
        except FileExistsError:
            if _existing_object_is(target, sha, stored_as):
                return stored_as
            raise
        except OSError:  # no hard links on this file system
            if target.exists():
                raise _Refused(f"the store already holds {stored_as}; an object is never overwritten")
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return stored_as


def _existing_object_is(target: Path, sha: str, stored_as: str) -> bool:
    """True when the object exists with the expected bytes; _Refused when it exists with others."""
    if not os.path.lexists(target):
        return False
    actual = _sha256(target)[0] if target.is_file() else "(not a regular file)"
    if actual != sha:
        raise _Refused(f"the store already holds {stored_as} with other content (sha256 {actual}, expected {sha}); "
                       "an object is never overwritten, so the store needs checking before this file can go in")
    return True


def _append_index(store: Path, entry: dict) -> None:
    """Append one line to the index, flushed to disk, after the object is in place (so no line names a missing
    object). A last line without its newline is closed with one when it is whole JSON (a hand edit), and cut off
    when it is not (an append cut short by a crash, never a delivery), so the new line stays whole and the index
    stays readable."""
    path = store / INDEX_NAME
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    with open(path, "a+b") as fh:
        fh.seek(0)
        data = fh.read()
        if data and not data.endswith(b"\n"):
            start = data.rfind(b"\n") + 1
            try:
                json.loads(data[start:])
                line = b"\n" + line
            except ValueError:
                fh.truncate(start)
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _read_index(store: Path) -> list[tuple[int, dict]]:
    """(line number, entry) for every delivery in the index. A last line without its newline is an append cut
    short by a crash and is skipped (the next append cuts it off; its object, if any, is adopted when the file comes
    again); any other bad line is an error naming it."""
    path = Path(store) / INDEX_NAME
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError.single(path, f"the delivery index is not UTF-8 text ({exc})") from exc
    lines = text.split("\n")
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # no newline after it: an interrupted append
                continue
            raise InputError.single(path, f"not a JSON line ({exc.msg})", row=number) from exc
        missing = [key for key in INDEX_COLUMNS if not isinstance(entry, dict) or key not in entry]
        if missing:
            raise InputError.single(path, f"a delivery line must have the keys {', '.join(INDEX_COLUMNS)}; "
                                          f"missing {', '.join(missing)}", row=number)
        entries.append((number, entry))
    return entries


def _fsync_dir(folder: Path) -> None:
    """Make a new name in the folder durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- rejected files ----------------------------------------------------------------------------------------------

def _reject(inbox: Path, name: str, reason: str, when: str, notes: list[str]) -> Rejected:
    """Move the file to inbox/rejected/ under a free (and, for unsafe names, sanitised) name, with a reason file."""
    folder = inbox / REJECTED_DIR
    safe = unsafe_name_reason(name) is None
    base = _fit(name if safe else _sanitised(name), MAX_REJECTED_NAME_BYTES)
    try:
        folder.mkdir(exist_ok=True)
        moved_to = _move_to_free_name(inbox / name, folder, base)
        lines = [f"file: {name if safe else repr(name)}"]
        if moved_to.name != name:
            lines.append(f"stored here as: {moved_to.name}")
        lines += [f"time: {when}", f"reason: {reason}"]
        with open(folder / (moved_to.name + REASON_SUFFIX), "x", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write("\n".join(lines) + "\n")
    except OSError as exc:
        notes.append(f"{str(inbox / name)!r}: rejected ({reason}) but could not be moved to {folder} ({exc})")
        return Rejected(name, reason, None)
    return Rejected(name, reason, moved_to)


def _move_to_free_name(src: Path, folder: Path, base: str) -> Path:
    """Move src into folder as base, or base with .1, .2, ... before its extension: never over an existing file
    (nor next to an existing reason file)."""
    stem, ext = _split_ext(base)
    for n in range(0, 10_000):
        dst = folder / (base if n == 0 else f"{stem}.{n}{ext}")
        if os.path.lexists(dst) or os.path.lexists(folder / (dst.name + REASON_SUFFIX)):
            continue
        try:
            _rename_no_replace(src, dst)
        except FileExistsError:
            continue  # taken meanwhile
        return dst
    raise FileExistsError(f"{folder}: no free name for {base}")


def _rename_no_replace(src: Path, dst: Path) -> None:
    """Rename that fails if dst exists (os.rename would replace it): hard-link, then unlink the source."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system
        if os.path.lexists(dst):
            raise FileExistsError(dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def _sanitised(name: str) -> str:
    """A harmless stand-in for an unsafe name: undecodable bytes, control characters, separators and '..' become
    '_', and a leading '-' or '.' is replaced."""
    try:
        text = os.fsencode(name).decode("utf-8", "replace")
    except UnicodeError:  # a lone surrogate that is not an escaped byte
        text = name.encode("utf-8", "replace").decode("utf-8")
    text = "".join("_" if c in "/\\\ufffd" or unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)
    text = text.replace("..", "_")
    stripped = text.lstrip("-.")
    if stripped != text:
        stripped = "_" + stripped
    return stripped or "unnamed"


def _fit(name: str, max_bytes: int) -> str:
    """Shorten the stem until the UTF-8 name fits, keeping a short extension."""
    if len(name.encode("utf-8", "surrogateescape")) <= max_bytes:
        return name
    stem, ext = _split_ext(name)
    if len(ext) > 16:
        stem, ext = name, ""
    while stem and len((stem + ext).encode("utf-8", "surrogateescape")) > max_bytes:
        stem = stem[:-1]
    return (stem or "unnamed") + ext


def _split_ext(name: str) -> tuple[str, str]:
    ext = PurePosixPath(name).suffix
    return (name[: -len(ext)], ext) if ext else (name, "")


def _utc_seconds(moment: datetime) -> str:
    """ISO 8601 in UTC to the second; a naive datetime is taken as UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


# --- reading the store -------------------------------------------------------------------------------------------

def current_delivery(store: Path, source_id: str) -> Path | None:
    """The object of the latest delivery of this source (the last index line for it), or None when none came
    through the inbox. An index line naming a missing object is an error, not a silent fall-back to an older file."""
    store = Path(store)
    for number, entry in reversed(_read_index(store)):
        if entry["source_id"] != source_id:
            continue
        stored_as = PurePosixPath(str(entry["stored_as"]))
        if stored_as.is_absolute() or ".." in stored_as.parts:
            raise InputError.single(store / INDEX_NAME, f"stored_as must be a path inside the store, not "
                                    f"{str(stored_as)!r}", row=number, column="stored_as")
        path = store / stored_as
        if not path.is_file():
            raise InputError.single(store / INDEX_NAME, f"the latest delivery of {source_id} is stored as "
                                    f"{stored_as}, but the store has no such object", row=number)
        return path
    return None


def store_history(store: Path) -> pd.DataFrame:
    """Every delivery in the store's index, in the order received: one row per line of deliveries.jsonl (bytes as
    integers, received_at as UTC timestamps); an empty frame with the same columns when nothing came yet."""
    entries = [entry for _, entry in _read_index(Path(store))]
    frame = pd.DataFrame([{key: entry[key] for key in INDEX_COLUMNS} for entry in entries],
                         columns=list(INDEX_COLUMNS))
    frame["bytes"] = frame["bytes"].astype("int64")
    frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
    for column in ("source_id", "sha256", "original_name", "stored_as"):
        frame[column] = frame[column].astype("object")
    return frame
