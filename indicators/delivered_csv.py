"""A delivered CSV file's own problems, diagnosed as such, once per file and before any column is looked at.

What a provider gets wrong with the file as a whole, rather than with a cell: it is not a CSV at all (a gzip or zip
archive, an Excel workbook), its bytes are not text in the encoding it should be in (a UTF-16 byte-order mark,
latin-1 bytes in a UTF-8 file: named by the line they are on, NUL bytes), its header is one column because the
delimiter is another, it names a column twice, or a record has more or fewer fields than the header. Each is one
InputError naming the file and the line an editor shows (header = line 1), instead of a parser's or DuckDB's
message or one "column not in file" per column the layout expects. The bytes are checked chunk by chunk, never
held whole (a survey delivery may be hundreds of megabytes).

Every reader of a delivered CSV uses these: ICT series and incident reports (indicators/sources/ict and
incidents), survey microdata read through a mapping spec, and `cop estimate`'s load_table. The detection is the
same for all; what differs is who reads the message and how they fix the file, which an `Advice` says:
- COUNTRY_FILE: the provider of an ICT or incident file, whose format is fixed (comma-separated UTF-8): the fix is
  to save the file again that way ("This file must be comma-separated", "Save it as UTF-8"). Each problem is a
  Violation located at the file's line, with the column and the value as its own fields, like every other error
  in those files.
- SPEC and OPTIONS: whoever declares a survey file's encoding and delimiter, in the mapping spec (`delimiter: ';'`)
  or with `cop estimate --delimiter ';'`: the fix is that setting. Each problem is one sentence that names the line
  and the column itself, because a rejected delivery's reason is kept and shown as one text.

`number_problem` says why a numeric cell is not a number when it is one written the way a spreadsheet shows it
(thousands separators, a decimal comma).
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from indicators.errors import InputError

CHUNK_BYTES = 1 << 20
SHOWN_CHARS = 60  # a header or a cell is shown up to this length
# delimiters a header that is one column is searched for, most common first
CANDIDATE_DELIMITERS = (";", ",", "\t", "|")
# the encodings a delivery may declare (schemas.mapping_spec.csv_encoding), as a message names them
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-16": "UTF-16", "latin-1": "latin-1"}
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


# ------------------------------------------------------------------------------------------------ the advice
Fix = Callable[[str, str], str]  # (setting, the value the file seems to have) -> how the reader changes it


def spec_fix(setting: str, value: str) -> str:
    """How to change a setting in the mapping spec: (set `delimiter: ';'` in the spec)."""
    shown = '"\\t"' if value == "\t" else f"'{value}'" if setting == "delimiter" else value
    return f"(set `{setting}: {shown}` in the spec)"


def option_fix(setting: str, value: str) -> str:
    """How to change a setting on the command line: (use --delimiter ';')."""
    shown = "$'\\t'" if value == "\t" else f"'{value}'" if setting == "delimiter" else value
    return f"(use --{setting} {shown})"


def resave_fix(setting: str, value: str) -> str:
    """How to fix a file whose format is fixed (comma-separated UTF-8): save it again that way. UTF-16 text is what
    Excel's 'Unicode text' writes, so Excel's own name of the CSV it should be saved as is given."""
    if setting == "delimiter":
        return "This file must be comma-separated"
    return "Save it as 'CSV UTF-8 (comma delimited)'" if value == "utf-16" else "Save it as UTF-8"


@dataclass(frozen=True)
class Advice:
    """Who reads the messages about a delivered file: how they fix it, and how a problem is located."""

    fix: Fix
    # True: the file's format is fixed and each problem is a Violation at the file's line with the column and the
    # value as fields (ICT and incident files); False: the reader declares the encoding and delimiter, and each
    # problem is one sentence naming the line (a survey delivery's rejection reason, cop estimate's message)
    fixed_format: bool


COUNTRY_FILE = Advice(resave_fix, fixed_format=True)
SPEC = Advice(spec_fix, fixed_format=False)
OPTIONS = Advice(option_fix, fixed_format=False)


# ------------------------------------------------------------------------------------------------ the bytes
def check_text(path: Path, encoding: str, delimiter: str | None, advice: Advice) -> int:
    """Raise one InputError when the file is empty, an archive or a workbook, starts with the byte-order mark of
    another encoding, or holds bytes that are not valid in `encoding` (or NUL bytes, which no text outside UTF-16
    has); else return its number of lines as an editor counts them. `encoding` is utf-8, utf-16 or latin-1;
    `delimiter` (None: not known yet, ',' is assumed) delimits the cell a message shows."""
    path = Path(path)
    if is_empty(path):
        raise InputError.single(path, "file is empty")
    kind = archive_kind(path)
    if kind is not None:
        raise InputError.single(path, kind)
    _check_byte_order_mark(path, encoding, advice)
    return _decoded_line_count(path, encoding, delimiter or ",", advice)


def is_empty(path: Path) -> bool:
    """The file holds no byte but white space (a spreadsheet's empty export may still hold a line break)."""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if chunk.strip():
                return False
    return True


def archive_kind(path: Path) -> str | None:
    """What the file is when its first bytes say it is not text (gzip, zip, Excel workbook), as the rule of a
    message; None for anything else."""
    with open(path, "rb") as handle:
        start = handle.read(8)
    if start.startswith(b"\x1f\x8b"):
        return "the file is a gzip archive, not a CSV: unpack it first"
    if start.startswith(b"\xd0\xcf\x11\xe0"):
        return "the file is an Excel 97-2003 workbook (.xls), not a CSV: save the sheet as CSV UTF-8"
    if start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(path) as archive:
                workbook = "xl/workbook.xml" in archive.namelist()
        except zipfile.BadZipFile:
            workbook = False
        if workbook:
            return "the file is an Excel workbook (.xlsx), not a CSV: save the sheet as CSV UTF-8"
        return "the file is a zip archive, not a CSV: unpack it first"
    return None


def _check_byte_order_mark(path: Path, encoding: str, advice: Advice) -> None:
    with open(path, "rb") as handle:
        start = handle.read(1024)
    name = ENCODING_NAMES[encoding]
    if encoding != "utf-16" and start.startswith(UTF16_BOMS):
        if advice.fixed_format:
            raise InputError.at_line(path, f"the file is UTF-16 text (Excel's 'Unicode text'), not {name}: save it "
                                           "as 'CSV UTF-8 (comma delimited)'", 1)
        raise InputError.single(path, f"the file starts with a UTF-16 byte-order mark — is the file UTF-16? "
                                      f"{advice.fix('encoding', 'utf-16')}")
    if encoding == "latin-1" and start.startswith(codecs.BOM_UTF8):
        raise InputError.single(path, f"the file starts with a UTF-8 byte-order mark — is the file UTF-8? "
                                      f"{advice.fix('encoding', 'utf-8')}")
    if encoding == "utf-16" and not start.startswith(UTF16_BOMS) and b"\x00" not in start:
        raise InputError.single(path, f"the file has no UTF-16 byte-order mark and no zero bytes, so it is not "
                                      f"UTF-16 — is the file UTF-8? {advice.fix('encoding', 'utf-8')}")


def _python_codec(path: Path, encoding: str) -> str:
    """Python's codec for a file DuckDB reads as `encoding`: a UTF-8 byte-order mark is not text, and UTF-16
    without a byte-order mark is little-endian, as DuckDB reads it (Python's utf-16 codec refuses it)."""
    if encoding == "utf-8":
        return "utf-8-sig"
    if encoding == "utf-16":
        with open(path, "rb") as handle:
            return "utf-16" if handle.read(2) in UTF16_BOMS else "utf-16-le"
    return encoding


def _decoded_line_count(path: Path, encoding: str, delimiter: str, advice: Advice) -> int:
    """The file's line count, or InputError at the first line holding bytes not valid in `encoding` or a NUL."""
    codec = _python_codec(path, encoding)
    decoder = codecs.getincrementaldecoder(codec)()
    newlines, last_char = 0, ""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise _not_decodable(path, exc, newlines, encoding, codec, delimiter, advice) from None
            if encoding != "utf-16" and "\x00" in text:
                line = newlines + text.count("\n", 0, text.index("\x00")) + 1
                raise _nul_bytes(path, line, advice)
            newlines += text.count("\n")
            last_char = text[-1:] or last_char
            if not chunk:
                break
    return newlines + (1 if last_char not in ("", "\n") else 0)


def _not_decodable(path: Path, exc: UnicodeDecodeError, newlines_before: int, encoding: str, codec: str,
                   delimiter: str, advice: Advice) -> InputError:
    # exc.object is the decoder's pending bytes followed by this chunk; exc.start is within it
    valid = exc.object[:exc.start].decode(codec, errors="replace")
    line = newlines_before + valid.count("\n") + 1
    other = "latin-1" if encoding != "latin-1" else "utf-8"
    rule = (f"bytes at line {line} are not {ENCODING_NAMES[encoding]} — is the file {other}? "
            f"{advice.fix('encoding', other)}")
    if not advice.fixed_format:
        return InputError.single(path, rule)
    return InputError.single(path, rule, value=_cell_at(exc.object, exc.start, delimiter))


def _cell_at(data: bytes, position: int, delimiter: str) -> str:
    """The cell of the line that holds byte `position`, as latin-1 reads it (a cell that began in the previous
    chunk of the file is shown from the chunk's start)."""
    separator = delimiter.encode()
    start = max(data.rfind(separator, 0, position), data.rfind(b"\n", 0, position)) + 1
    ends = [end for end in (data.find(separator, position), data.find(b"\n", position)) if end >= 0]
    return data[start:min(ends, default=len(data))].strip().decode("latin-1")[:SHOWN_CHARS]


def _nul_bytes(path: Path, line: int, advice: Advice) -> InputError:
    if advice.fixed_format:
        return InputError.at_line(path, f"the file holds NUL bytes: is it UTF-16 text or not a text file? "
                                        f"{advice.fix('encoding', 'utf-16')}", line)
    return InputError.single(path, f"line {line} holds NUL bytes — is the file UTF-16 (without a byte-order "
                                   f"mark), or not a text file? {advice.fix('encoding', 'utf-16')}")


# ------------------------------------------------------------------------------------------------ the records
def csv_records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Every record of a delimited text file with the line an editor shows it starting on (a quoted field may span
    lines), blank lines included as empty records; a byte-order mark is not part of the first field. A record
    Python's csv module cannot read (a field above its size limit) is an InputError at its line."""
    with open(path, encoding=_python_codec(path, encoding), newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        previous_end = 0
        try:
            for fields in reader:
                yield previous_end + 1, fields
                previous_end = reader.line_num
        except csv.Error as exc:
            raise InputError.at_line(path, f"not a readable CSV line: {exc}", previous_end + 1) from exc


def is_blank(fields: list[str]) -> bool:
    """A record with no field but white space: a blank line, or a line of delimiters only."""
    return not any(field.strip() for field in fields)


def header_and_rows(records: Iterable[tuple[int, list[str]]]
                    ) -> tuple[int | None, list[str], Iterator[tuple[int, list[str]]]]:
    """(header line, header fields, the records after it that are not blank): the header is the first record
    that is not blank; (None, [], no records) when there is none."""
    filled = ((line, fields) for line, fields in records if not is_blank(fields))
    first = next(filled, None)
    if first is None:
        return None, [], iter(())
    return first[0], first[1], filled


# ------------------------------------------------------------------------------------------------ the header
def check_delimiter(path: Path, header: list[str], line: int | None, delimiter: str | None,
                    advice: Advice) -> None:
    """A header that is one column holding ';', ',', a tab or '|' (another than `delimiter`; None: any) means the
    file is delimited by that character: said once, instead of one error per column the layout expects."""
    if len(header) != 1:
        return
    found = [c for c in CANDIDATE_DELIMITERS if c != delimiter and c in header[0]]
    if not found:
        return
    other = max(found, key=header[0].count)
    named = "a tab" if other == "\t" else f"'{other}'"
    if advice.fixed_format:  # the header itself is the violation's value
        raise InputError.at_line(path, f"the header is one column containing {named} — is the delimiter {named}? "
                                       f"{advice.fix('delimiter', other)}", line, value=header[0][:SHOWN_CHARS])
    held = "tabs" if other == "\t" else named  # the sentence says what the header holds: several tabs
    raise InputError.single(path, f"the header is one column containing {held} — is the delimiter {named}? "
                                  f"{advice.fix('delimiter', other)}")


def check_header_names(path: Path, header: list[str], line: int | None, advice: Advice) -> None:
    """Each column name once: a name given twice would leave one of the two columns unread or mixed up."""
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        name = name.strip()
        if name == "":
            continue  # an unnamed column is the layout's business (WDI files end every line with a comma)
        if name in seen:
            if advice.fixed_format:
                raise InputError.at_line(path, f"column name appears twice in the header (columns {seen[name]} and "
                                               f"{position})", line, name)
            raise InputError.single(path, f"the header names column {name!r} twice (columns {seen[name]} and "
                                          f"{position}); name each column once")
        seen[name] = position


@dataclass(frozen=True)
class TextFacts:
    lines: int  # lines of the file as an editor counts them (a last line without a line break counts)
    header: list[str]  # the header's fields as the declared delimiter (or ',') splits them


def check_delimited_file(path: Path, encoding: str, delimiter: str | None, advice: Advice) -> TextFacts:
    """The whole-file checks of a file another reader (DuckDB) reads next: its bytes (check_text) and, when the
    delimiter is declared, its header (check_delimiter, check_header_names); its line count and header."""
    lines = check_text(path, encoding, delimiter, advice)
    with closing(csv_records(path, encoding, delimiter or ",")) as records:
        line, header, _ = header_and_rows(records)
    if delimiter is not None:
        check_delimiter(path, header, line, delimiter, advice)
        check_header_names(path, header, line, advice)
    return TextFacts(lines, header)


def country_file_records(path: Path) -> list[tuple[int, list[str]]]:
    """Every record of an ICT or incident file (comma-separated UTF-8, small enough to hold), blank lines included,
    after the checks of its bytes and of its first line that is not blank (the header, or the WDI preamble)."""
    check_text(path, "utf-8", ",", COUNTRY_FILE)
    records = list(csv_records(path, "utf-8", ","))
    line, first, _ = header_and_rows(records)
    check_delimiter(path, first, line, ",", COUNTRY_FILE)
    return records


# ------------------------------------------------------------------------------------------------ the rows
def field_count_problem(path: Path, width: int, rows: Iterable[tuple[int, list[str]]], delimiter: str,
                        advice: Advice) -> InputError | None:
    """The error for the first row without as many fields as the header's `width` (a quoted field left open, which
    runs to the end of the file, is named as such), or None. `rows`: the records after the header that are not
    blank (header_and_rows)."""
    rows = iter(rows)
    for line, fields in rows:
        if len(fields) == width:
            continue
        if len(fields) < width and any("\n" in f for f in fields) and next(rows, None) is None:
            if advice.fixed_format:
                return InputError.at_line(path, "a quote opened on this line is never closed: the rest of the file "
                                                "is read as one cell", line)
            return InputError.single(path, f"a quote opened on line {line} is never closed: the rest of the file "
                                           "is read as one cell")
        if advice.fixed_format:
            return InputError.at_line(path, f"row has {len(fields)} fields but the header has {width}", line)
        if len(fields) < width and next(rows, None) is None and not _ends_with_newline(path):
            return InputError.single(path, f"line {line} has {len(fields)} fields but the header has {width} — the "
                                           "file ends in the middle of this line: was it cut off?")
        shown = "a tab" if delimiter == "\t" else f"'{delimiter}'"
        return InputError.single(path, f"line {line} has {len(fields)} fields but the header has {width} — a "
                                       f"stray {shown}, or a value holding {shown} that is not in quotes?")
    return None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return False
        handle.seek(-1, 2)
        return handle.read(1) in (b"\n", b"\r")


def record_starts(path: Path, encoding: str, delimiter: str) -> list[int] | None:
    """The line where each record after the header starts, for a file that is not one line per record (blank
    lines, line breaks inside quoted values), where the line is not the record number + 1; None when Python's csv
    module cannot read a record another reader read (a field above its size limit): the lines are then unknown."""
    try:
        with closing(csv_records(path, encoding, delimiter)) as records:
            _, _, rows = header_and_rows(records)
            return [line for line, _ in rows]
    except InputError:
        return None


# ------------------------------------------------------------------------------------------------ the numbers
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,234 / 1,234,567.5
DOT_THOUSANDS_DECIMAL_COMMA = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")  # 1.234,5 / 1.234.567
DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")  # 8,75 / ,5
SPACE_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([ \u00a0\u202f']\d{3})+([.,]\d+)?$")  # 1 234 / 1'234.5
PERCENT = re.compile(r"^[+-]?\d+([.,]\d+)?\s*%$")


def number_problem(text: str) -> str | None:
    """Why `text` is not a number although it looks like one, as the rule of a message; None when it does not
    look like a number at all (then "not a number" says it all)."""
    text = text.strip()
    if THOUSANDS.match(text):
        plain = text.replace(",", "")
        if text.count(",") == 1 and "." not in text:
            return (f"not a number: ',' is a thousands separator or a decimal comma here; write {plain} or "
                    f"{text.replace(',', '.')}, without thousands separators")
        return f"not a number: remove the thousands separators (write {plain})"
    if DOT_THOUSANDS_DECIMAL_COMMA.match(text):
        return (f"not a number: '.' thousands separators and a decimal comma; write "
                f"{text.replace('.', '').replace(',', '.')}")
    if DECIMAL_COMMA.match(text):
        return f"not a number: decimal comma; write {text.replace(',', '.')} with a decimal point"
    if SPACE_THOUSANDS.match(text):
        plain = re.sub(r"[ \u00a0\u202f']", "", text)
        return f"not a number: remove the spaces or quotes between digit groups (write {plain.replace(',', '.')})"
    if PERCENT.match(text):
        return f"not a number: remove the '%' sign (write {text.rstrip('%').strip().replace(',', '.')})"
    return None
