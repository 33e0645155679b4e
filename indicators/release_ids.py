"""Release ids and the `latest` pointer: what the command line needs before any heavy module is imported."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from indicators.errors import CopError

LATEST = "latest"


def new_release_id(now: datetime | None = None) -> str:
    """Sortable, unique per second: 2026-11-28T101500Z."""
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H%M%SZ")


RELEASE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_release_id(release_id: str) -> str:
    if not RELEASE_ID_PATTERN.match(release_id) or release_id.lower() == LATEST:
        raise CopError(f"release id {release_id!r}: use letters, digits, '.', '_' and '-' (at most 64, "
                       f"not starting with a punctuation mark), and not {LATEST!r}")
    return release_id


def latest_release(published_dir: Path) -> Path | None:
    pointer = Path(published_dir) / "LATEST"
    if not pointer.exists():
        return None
    return Path(published_dir) / pointer.read_text().strip()
