"""One exception family for everything a user can get wrong.

Every error carries where the problem is (file, row, column) and which rule was broken, so the CLI can print a
one-line, actionable message instead of a traceback, and asset checks can attach the same facts as metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Violation:
    """One broken rule at one place in one input file."""

    file: str
    rule: str
    row: int | None = None  # 1-based line number in the file as a user opens it in an editor
    column: str | None = None
    value: object = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where) + f": {self.rule}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        return text

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "column": self.column, "rule": self.rule,
                "value": None if self.value is None else str(self.value)}


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
               value: object = None) -> "InputError":
        return cls([Violation(str(file), rule, row, column, value)])

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
