"""A delimited text delivery (CSV) looked at before DuckDB reads it, so that a wrong encoding or delimiter is said
as such, once, with the line an editor shows (the header is line 1) and the setting that fixes it, instead of a
DuckDB message or one "column not in the file" per column; and, after reading, the line where each record starts.

The checks take a `fix` function (setting, value) -> the words that tell the reader how to change it: the mapping
spec's key for the pipeline and `cop validate` (spec_fix), the command's option for `cop estimate`
(option_fix).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from indicators.errors import InputError

CHUNK_BYTES = 1 << 20
# delimiters a header that parses to one column is searched for, most common first
CANDIDATE_DELIMITERS = (";", ",", "\t", "|")
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-16": "UTF-16", "latin-1": "latin-1"}
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

Fix = Callable[[str, str], str]


def spec_fix(setting: str, value: str) -> str:
    """How to change a setting in the mapping spec: (set `delimiter: ';'` in the spec)."""
    shown = '"\\t"' if value == "\t" else f"'{value}'" if setting == "delimiter" else value
    return f"(set `{setting}: {shown}` in the spec)"


def option_fix(setting: str, value: str) -> str:
    """How to change a setting on the command line: (use --delimiter ';')."""
    shown = "$'\\t'" if value == "\t" else f"'{value}'" if setting == "delimiter" else value
    return f"(use --{setting} {shown})"


@dataclass(frozen=True)
class TextFacts:
    lines: int  # lines of the file as an editor counts them (a last line without a line break counts)
    header: list[str]  # the header's fields as the declared delimiter splits them


def check_text_file(path: Path, encoding: str, delimiter: str | None, fix: Fix = spec_fix) -> TextFacts:
    """Raise InputError, one message for the file, when its bytes are not text in `encoding` or its header does
    not split on `delimiter` (None: DuckDB will detect it; the header is then not checked here); else the file's
    line count and header. `encoding` is DuckDB's name (schemas.mapping_spec.csv_encoding)."""
    path = Path(path)
    _check_byte_order_mark(path, encoding, fix)
    lines, first_line = _decoded_lines(path, encoding, fix)
    header = next(csv.reader([first_line], delimiter=delimiter or ","), [])
    if delimiter is not None:
        problem = header_problem(header, delimiter, fix)
        if problem:
            raise InputError.single(path, problem)
    return TextFacts(lines, header)


def header_problem(header: list[str], delimiter: str | None, fix: Fix = spec_fix) -> str | None:
    """What is wrong with a header as split by `delimiter`: one column that holds another delimiter (the file uses
    that one), or a column name given twice (which column the spec means is then a guess). None when fine."""
    if len(header) == 1:
        found = [c for c in CANDIDATE_DELIMITERS if c != delimiter and c in header[0]]
        if found:
            best = max(found, key=header[0].count)
            held, named = ("tabs", "a tab") if best == "\t" else (f"'{best}'", f"'{best}'")
            return (f"the header is one column containing {held} — is the delimiter {named}? "
                    f"{fix('delimiter', best)}")
    seen: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        key = name.strip()
        if key in seen:
            return f"the header names column {key!r} twice (columns {seen[key]} and {number}); name each column once"
        seen[key] = number
    return None


def _check_byte_order_mark(path: Path, encoding: str, fix: Fix) -> None:
    with open(path, "rb") as handle:
        start = handle.read(1024)
    if encoding != "utf-16" and start.startswith(UTF16_BOMS):
        raise InputError.single(path, f"the file starts with a UTF-16 byte-order mark — is the file UTF-16? "
                                      f"{fix('encoding', 'utf-16')}")
    if encoding == "latin-1" and start.startswith(codecs.BOM_UTF8):
        raise InputError.single(path, f"the file starts with a UTF-8 byte-order mark — is the file UTF-8? "
                                      f"{fix('encoding', 'utf-8')}")
    if encoding == "utf-16" and not start.startswith(UTF16_BOMS) and b"\x00" not in start:
        raise InputError.single(path, f"the file has no UTF-16 byte-order mark and no zero bytes, so it is not "
                                      f"UTF-16 — is the file UTF-8? {fix('encoding', 'utf-8')}")


def _decoded_lines(path: Path, encoding: str, fix: Fix) -> tuple[int, str]:
    """(line count, first line) of the file decoded as `encoding`, or InputError at the first line holding bytes
    that are not valid in it. One pass, chunk by chunk: the file is never held whole."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines, head, first_line, last_char = 0, "", None, ""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.object is the decoder's pending bytes followed by this chunk; exc.start is within it
                valid = exc.object[:exc.start].decode(encoding, errors="replace")
                line = newlines + valid.count("\n") + 1
                other = "latin-1" if encoding != "latin-1" else "utf-8"
                raise InputError.single(path, f"bytes at line {line} are not {ENCODING_NAMES[encoding]} — is the "
                                              f"file {other}? {fix('encoding', other)}") from None
            newlines += text.count("\n")
            if first_line is None:
                head += text
                if "\n" in head or "\r" in head.rstrip("\r") or not chunk:  # a lone final \r may precede \n
                    first_line = re.split(r"\r\n|\n|\r", head, maxsplit=1)[0].lstrip("\ufeff")
            last_char = text[-1:] or last_char
            if not chunk:
                break
    return newlines + (1 if last_char not in ("", "\n") else 0), first_line or ""


def _records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, int]]:
    """(line where the record starts, number of fields) of every record after the header, as DuckDB reads the
    file: quoted fields may hold line breaks, blank lines are no records."""
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        end_of_previous = 0
        try:
            for fields in reader:
                start = end_of_previous + 1
                end_of_previous = reader.line_num
                if start == 1 or not fields:
                    continue
                yield start, len(fields)
        except csv.Error:
            return  # a record Python's reader cannot parse (a field above its size limit): stop there


def record_starts(path: Path, encoding: str, delimiter: str) -> list[int]:
    """The line where each record after the header starts, reading the file again: for a file that is not one line
    per record (blank lines, line breaks inside quoted values), where the line is not the record number + 1."""
    return [start for start, _ in _records(path, encoding, delimiter)]


def ragged_line(path: Path, encoding: str, delimiter: str, fields: int) -> tuple[int, int] | None:
    """(line, number of fields) of the first record whose field count is not the header's `fields`, or None."""
    for start, count in _records(path, encoding, delimiter):
        if count != fields:
            return start, count
    return None
