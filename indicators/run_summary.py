"""One-screen plain-text summary of a failed build, appended to a log file that operators read.

A scheduled build fails at 05:00 with nobody watching the Dagster UI; the person who looks later wants, in one
place and without Python tracebacks: which run, which job, when, what step failed and why (the same user-facing
message `cop build` prints), and for each failed check the first violations (file, row, column, rule, value).

The input is plain dicts and lists, collected from the run's event log by `pipelines/operations.py`, so the wording
is testable without Dagster:

    {"run_id": "8c1f...", "job": "build_release", "partition": None | "bra_2019",
     "failed_at": 1772341333.0 (UTC timestamp) | datetime | None,
     "steps": [{"step": "staging__ict_country_year", "assets": ["staging/ict_country_year"],
                "error": {"cls_name": "DagsterExecutionStepExecutionError", "message": "...",
                          "cause": {"cls_name": "InputError", "message": "...", "cause": None}}}],
     "checks": [{"asset": "staging/ict_country_year", "check": "ict_values_follow_the_rules",
                 "severity": "ERROR",
                 "metadata": {"rows": 12, "violations": 3,
                              "failure_cases": [{"file": ..., "row": ..., "column": ..., "rule": ..., "value": ...}]}}],
     "not_built": ["estimates/country_year", "release"],
     "run_error": None | {"cls_name": ..., "message": ..., "cause": ...}}   # a failure outside any step
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

from indicators.errors import CopError, Violation

MAX_LINES = 25  # one terminal screen
MAX_WIDTH = 300  # a longer line is cut (a safeguard: values and name lists are shortened before that)
LIST_WIDTH = 140  # room for the names in 'not built: ...' before 'and N more'
MAX_VALUE_CHARS = 60  # an offending value is shown up to this length (a whole free-text cell helps nobody)
CASES_PER_CHECK = 5
LINES_PER_ERROR = 6
# user errors named in the message as they are (no "internal error" hint); subclasses of CopError defined in
# modules not imported yet are listed here by name, the others are found at run time
USER_ERRORS = {"CopError", "InputError", "ConfigError", "RegistryError", "LonelyPsuError", "DesignError"}
CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"  # a step failed only because a blocking check failed
METADATA_LEFT_OUT = {"failure_cases", "summary"}  # shown as lines (cases) or redundant with them (summary)
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Stack Trace:")


def format_summary(facts: dict) -> str:
    """The summary text of one failed run (no trailing newline), at most MAX_LINES lines."""
    head = [f"=== {facts.get('job') or 'unknown job'} FAILED at {format_time(facts.get('failed_at'))} ===",
            f"run id: {facts.get('run_id')}" + (f"  partition: {facts['partition']}" if facts.get("partition")
                                               else "")]
    body: list[str] = []
    for step in facts.get("steps", []):
        body += step_lines(step)
    for check in facts.get("checks", []):
        body += check_lines(check)
    if facts.get("run_error") and not facts.get("steps"):
        body.append("run failed outside any step:")
        body += ["  " + line for line in message_lines(user_message(facts["run_error"]))]
    if facts.get("not_built"):
        body.append("not built (an upstream step failed): " + name_list(facts["not_built"]))
    if not body:
        body.append("no failed step or check recorded: open the run in the Dagster UI")
    lines = [cut(line) for line in head + body]
    if len(lines) > MAX_LINES:
        hidden = len(lines) - (MAX_LINES - 1)
        lines = lines[: MAX_LINES - 1] + [f"... {hidden} more line(s): open run {facts.get('run_id')} "
                                          f"in the Dagster UI"]
    return "\n".join(lines)


def step_lines(step: dict) -> list[str]:
    """'failed asset KEY:' (or 'failed step KEY (assets ...):') and the user-facing error; nothing when a blocking check is the whole story
    (the check's own lines say more than Dagster's 'blocking asset check failed')."""
    error = step.get("error")
    if error and error.get("cls_name") == CHECK_FAILED_ERROR:
        return []
    assets, key = step.get("assets") or [], step.get("step")
    if not assets:
        title = f"failed step {key}:"
    elif len(assets) == 1 and assets[0].replace("/", "__") == key:  # an asset's own step: its key says it all
        title = f"failed asset {assets[0]}:"
    else:
        title = f"failed step {key} (asset{'s' if len(assets) > 1 else ''} {', '.join(assets)}):"
    return [title] + ["  " + line for line in message_lines(user_message(error))]


def check_lines(check: dict) -> list[str]:
    """'failed check NAME on ASSET (counts):' and its first violations, then how many more there are."""
    metadata = check.get("metadata") or {}
    counts = ", ".join(f"{key} {value}" for key, value in metadata.items()
                       if key not in METADATA_LEFT_OUT and isinstance(value, (int, float, str)))
    warning = " [warning only]" if str(check.get("severity", "ERROR")).upper().endswith("WARN") else ""
    lines = [f"failed check {check.get('check')} on {check.get('asset')}{warning}"
             + (f" ({counts})" if counts else "") + ":"]
    cases = metadata.get("failure_cases") or []
    lines += ["  " + violation_text(case) for case in cases[:CASES_PER_CHECK]]
    total = metadata.get("violations")
    total = total if isinstance(total, int) and total >= len(cases) else len(cases)
    if total > CASES_PER_CHECK:
        lines.append(f"  ... and {total - CASES_PER_CHECK} more (the check's metadata in the Dagster UI "
                     f"lists up to 200)")
    return lines


def violation_text(case: dict) -> str:
    """'file, line 5, column 'value': rule (value '140')', worded like `cop build` and InputError."""
    value = case.get("value")
    if value is not None and len(str(value)) > MAX_VALUE_CHARS:
        value = str(value)[: MAX_VALUE_CHARS - 3] + "..."
    return str(Violation.from_dict({**case, "value": value}))


def name_list(names: list[str]) -> str:
    """'a, b, c' while it fits in LIST_WIDTH characters, then 'and N more' (a failed gate leaves dozens)."""
    shown: list[str] = []
    for name in names:
        if shown and len(", ".join(shown + [name])) > LIST_WIDTH:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def user_message(error: dict | None) -> str:
    """The message a user can act on from an error chain ({cls_name, message, cause, context} dicts): the first
    cop-indicators error in the chain without its class prefix; else the innermost error as 'Class: message',
    marked internal (a bug, not bad input), never the traceback."""
    chain = list(error_chain(error))
    if not chain:
        return "no error message recorded"
    names = user_error_names()
    for link in chain:
        if link.get("cls_name") in names:
            return strip_class(link)
    innermost = chain[-1]
    name = innermost.get("cls_name") or "Error"
    return f"{name}: {strip_class(innermost)} (internal error; the traceback is in the run's log)"


def error_chain(error: dict | None):
    """The error, then what caused it (explicit cause first, else the implicit context), outermost first."""
    seen = 0
    while error and seen < 20:  # a chain is short; the bound guards against a cyclic hand-made dict
        yield error
        error = error.get("cause") or error.get("context")
        seen += 1


def strip_class(error: dict) -> str:
    """The message without the 'package.module.Class: ' prefix Python puts in front, and without any
    traceback text that slipped into it."""
    message = str(error.get("message") or "")
    for marker in TRACEBACK_MARKERS:
        message = message.split(marker, 1)[0]
    name = error.get("cls_name")
    if name:
        message = re.sub(rf"^\s*(?:[\w.]+\.)?{re.escape(name)}:\s*", "", message, count=1)
    return message.strip() or "(no message)"


def user_error_names() -> set[str]:
    """Names of the exception classes whose messages are written for users (CopError and its subclasses)."""
    names, todo = set(USER_ERRORS), [CopError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return names


def message_lines(message: str) -> list[str]:
    """At most LINES_PER_ERROR lines of a (possibly multi-line) message, blank lines dropped."""
    lines = [line.rstrip() for line in message.splitlines() if line.strip()]
    if len(lines) > LINES_PER_ERROR:
        lines = lines[: LINES_PER_ERROR - 1] + [f"... {len(lines) - LINES_PER_ERROR + 1} more line(s)"]
    return lines


def format_time(value: float | datetime | None) -> str:
    """'2026-03-01 05:02:13 UTC' from a UTC timestamp or a datetime (naive ones are taken as UTC)."""
    if value is None:
        return "unknown time"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def cut(line: str) -> str:
    """The line, shortened to MAX_WIDTH characters with a visible ellipsis."""
    return line if len(line) <= MAX_WIDTH else line[: MAX_WIDTH - 3] + "..."


def append_summary(path: Path, text: str) -> None:
    """Append one summary and a blank line to `path`, creating its folder.

    One write() on a file opened with O_APPEND: two failure sensors (or a sensor and a person) appending at the
    same time cannot interleave their lines, and a reader never sees half of an entry from a lost race."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (text.rstrip("\n") + "\n\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a regular file takes it whole; finish the rest if it ever did not
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)
