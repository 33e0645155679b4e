"""One build at a time per warehouse and per releases folder.

A second `cop build` on the same warehouse (or publishing into the same releases folder) refuses at once with a
message naming the build that holds it, instead of failing later on DuckDB's file lock or racing for `latest`.
The lock is an advisory `flock` on a small file beside the warehouse / in the releases folder: the kernel releases
it when its process ends, however it ends (a killed build leaves no stale lock), and the file keeps the holder's
pid, host and start time for the message.
"""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from indicators.errors import CopError


class BuildLocked(CopError):
    """Another build holds the warehouse or the releases folder."""


@contextmanager
def build_lock(warehouse: Path, releases: Path):
    """Hold the locks of a warehouse file (<warehouse>.lock beside it) and of a releases folder (.build.lock in it)
    for the duration of a build, or raise BuildLocked naming the build that holds one."""
    warehouse, releases = Path(warehouse), Path(releases)
    with ExitStack() as stack:
        stack.enter_context(_locked(warehouse.with_name(warehouse.name + ".lock"), warehouse))
        stack.enter_context(_locked(releases / ".build.lock", releases))
        yield


@contextmanager
def _locked(path: Path, target: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only or full disk: say so before any work is done
        raise CopError(f"{target}: cannot write there ({exc.strerror}: {exc.filename}); give a folder you may "
                       "write, with free space") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "a process that left no details"
            raise BuildLocked(f"{target}: another build is running on it ({holder}); wait for it to finish, or "
                              "build into another --warehouse / --out") from None
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
