"""One exception family for everything a user can get wrong.

Every error carries where the problem is (file, row, column) and which rule was broken, so the CLI can print a
one-line, actionable message instead of a traceback, and asset checks can attach the same facts as metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Violation:
    """One broken rule at one place in one input file.

    `row` is where the person who made the file finds it: for a text file the 1-based line an editor shows (the
    header is line 1), said "line N" when `position` is "line"; "row" (the default) is kept by the files whose
    messages have not been reworded yet. `column` is the file's own column name; `harmonised` the name the
    pipeline gives it, shown beside it when the layout renames ("column 'Value' (internet_users_pct)").
    """

    file: str
    rule: str
    row: int | None = None
    column: str | None = None
    value: object = None
    harmonised: str | None = None
    position: str = "row"  # the word before the number: "line" (a text file's line), "record", or "row"

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"{self.position} {self.row}")
        if self.column is not None:
            renamed = self.harmonised is not None and self.harmonised != self.column
            where.append(f"column {self.column!r}" + (f" ({self.harmonised})" if renamed else ""))
        text = ", ".join(where) + f": {self.rule}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        return text

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "column": self.column, "rule": self.rule,
                "value": None if self.value is None else str(self.value), "harmonised_column": self.harmonised,
                "position": self.position}

    @classmethod
    def from_dict(cls, case: dict) -> "Violation":
        """The violation a dict of as_dict's shape describes (a check's failure case, read back from its
        metadata); `position` and `harmonised_column` are optional keys."""
        return cls(str(case.get("file")), str(case.get("rule")), case.get("row"), case.get("column"),
                   case.get("value"), case.get("harmonised_column"), case.get("position") or "row")


class CopError(Exception):
    """Base of all errors a user of cop-indicators is meant to read."""


@dataclass
class InputError(CopError):
    """Input that breaks a rule; holds every violation found, the first ones shown in the message."""

    violations: list[Violation] = field(default_factory=list)
    max_shown: int = 10

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @classmethod
    def single(cls, file: str | Path, rule: str, row: int | None = None, column: str | None = None,
               value: object = None, *, harmonised: str | None = None, position: str = "row") -> "InputError":
        return cls([Violation(str(file), rule, row, column, value, harmonised, position)])

    @classmethod
    def at_line(cls, file: str | Path, rule: str, line: int | None = None, column: str | None = None,
                value: object = None, *, harmonised: str | None = None) -> "InputError":
        """One violation in a text file, located by the line an editor shows (header = line 1)."""
        return cls.single(file, rule, line, column, value, harmonised=harmonised, position="line")

    @property
    def message(self) -> str:
        n = len(self.violations)
        lines = [str(v) for v in self.violations[: self.max_shown]]
        if n > self.max_shown:
            lines.append(f"... and {n - self.max_shown} more violation(s)")
        head = "invalid input" if n == 1 else f"invalid input: {n} violations"
        return head + "\n  " + "\n  ".join(lines)

    def __str__(self) -> str:
        return self.message


class ConfigError(CopError):
    """A configuration file (registry entry, source manifest, mapping spec) is wrong; the message names it."""
