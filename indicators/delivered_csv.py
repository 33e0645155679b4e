"""A delivered CSV file's own problems, diagnosed as such, once per file and before any column is looked at.

What a provider gets wrong with the file as a whole, rather than with a cell: it is not a CSV at all (a gzip or zip
archive, an Excel workbook, UTF-16 text), it holds bytes that are not UTF-8 (named by the line they are on), its
header is one column because the delimiter is not a comma, or it names a column twice. Each is one InputError
naming the file and the line (header = line 1), worded for the person who made the file, instead of a parser's
message or one "column not in file" per expected column. `number_problem` says why a numeric cell is not a
number when it is one written the way a spreadsheet shows it (thousands separators, a decimal comma).

The readers of country-level files (ICT series, incident reports) use these; the delimiter they accept is ','.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

from indicators.errors import InputError

# delimiters a provider's spreadsheet may have used instead of ',': how a message names each
OTHER_DELIMITERS = {";": "';'", "\t": "a tab", "|": "'|'"}
SHOWN_CHARS = 60  # a header or a line is shown up to this length


# ------------------------------------------------------------------------------------------------ the bytes
def delivered_text(path: Path) -> str:
    """The text of a delivered CSV file (UTF-8, with or without a byte-order mark); an InputError that says what
    the file is instead when it is empty, an archive or a workbook, UTF-16 text, or has bytes that are not UTF-8."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise InputError.single(path, "file is empty")
    kind = archive_kind(data)
    if kind is not None:
        raise InputError.single(path, kind)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError.at_line(path, "the file is UTF-16 text (Excel's 'Unicode text'), not UTF-8: save it as "
                                       "'CSV UTF-8 (comma delimited)'", 1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise not_utf8(path, data) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError.at_line(path, "the file holds NUL bytes: is it UTF-16 text or not a text file? Save it as "
                                       "'CSV UTF-8 (comma delimited)'", line)
    return text


def archive_kind(data: bytes) -> str | None:
    """What the file is when its first bytes say it is not text (gzip, zip, Excel workbook), as the rule of a
    message; None for anything else."""
    if data.startswith(b"\x1f\x8b"):
        return "the file is a gzip archive, not a CSV: unpack it first"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "the file is an Excel 97-2003 workbook (.xls), not a CSV: save the sheet as CSV UTF-8"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                workbook = "xl/workbook.xml" in archive.namelist()
        except zipfile.BadZipFile:
            workbook = False
        if workbook:
            return "the file is an Excel workbook (.xlsx), not a CSV: save the sheet as CSV UTF-8"
        return "the file is a zip archive, not a CSV: unpack it first"
    return None


def not_utf8(path: Path, data: bytes) -> InputError:
    """The error for bytes that are not UTF-8, naming the first line that holds some (decoded line by line: the
    line an editor shows) and the field they are in, shown as latin-1 reads it."""
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            start = line.rfind(b",", 0, exc.start) + 1
            end = line.find(b",", exc.end)
            field = line[start:end if end >= 0 else len(line)].strip().decode("latin-1")
            return InputError.single(path, f"bytes at line {number} are not UTF-8 — is the file latin-1? Save it "
                                           f"as UTF-8", value=field[:SHOWN_CHARS])
    raise AssertionError("not_utf8 called on UTF-8 bytes")


# ------------------------------------------------------------------------------------------------ the records
def csv_records(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """Every record of a comma-separated text with the 1-based editor line it starts on (a quoted field may span
    lines), blank lines included as empty records."""
    reader = csv.reader(io.StringIO(text))
    records, previous_end = [], 0
    try:
        for fields in reader:
            records.append((previous_end + 1, fields))
            previous_end = reader.line_num
    except csv.Error as exc:
        raise InputError.at_line(path, f"not a readable CSV line: {exc}", previous_end + 1) from exc
    return records


def check_delimiter(path: Path, records: list[tuple[int, list[str]]]) -> None:
    """A first line that is one column holding ';', a tab or '|' means the file is delimited by that character:
    said once, instead of one error per column the layout expects."""
    for line, fields in records:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) == 1:
            counts = {d: fields[0].count(d) for d in OTHER_DELIMITERS}
            delimiter = max(counts, key=counts.get)
            if counts[delimiter]:
                shown = OTHER_DELIMITERS[delimiter]
                raise InputError.at_line(path, f"the header is one column containing {shown} — is the delimiter "
                                               f"{shown}? This file must be comma-separated", line,
                                         value=fields[0][:SHOWN_CHARS])
        return


def check_header_names(path: Path, header: list[str], line: int) -> None:
    """Each column name once: a name given twice would leave one of the two columns unread or mixed up."""
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name == "":
            continue  # an unnamed column is the layout's business (WDI files end every line with a comma)
        if name in seen:
            raise InputError.at_line(path, f"column name appears twice in the header (columns {seen[name]} and "
                                           f"{position})", line, name)
        seen[name] = position


def check_field_counts(path: Path, header: list[str], records: list[tuple[int, list[str]]]) -> None:
    """Every record as many fields as the header; a quoted field left open (it runs to the end of the file) is
    named as such."""
    for line, fields in records:
        if len(fields) == len(header):
            continue
        if len(fields) < len(header) and records[-1][0] == line and any("\n" in f for f in fields):
            raise InputError.at_line(path, "a quote opened on this line is never closed: the rest of the file is "
                                           "read as one cell", line)
        raise InputError.at_line(path, f"row has {len(fields)} fields but the header has {len(header)}", line)


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
