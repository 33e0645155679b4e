"""The session builds shared between pytest-xdist workers (conftest.Background): a worker that did not start a
command gets its real exit code and output, and one killed without an exit code is noticed at once, not after
the timeout."""

from __future__ import annotations

import os
import signal
import time

from conftest import Background


def test_a_worker_that_attaches_gets_the_exit_code_and_output(tmp_path):
    started = Background(["sh", "-c", "echo built; echo warned >&2; exit 3"], tmp_path, timeout_s=60)
    attached = Background.attach(tmp_path, timeout_s=60)
    done = attached.wait()
    assert (done.returncode, done.stdout, done.stderr) == (3, "built\n", "warned\n")
    assert started.wait().returncode == 3
    attached.stop()   # not its command: nothing happens
    assert started.process.returncode == 0   # the shell that wrote the exit code ended normally


def test_a_command_killed_without_an_exit_code_is_noticed_at_once(tmp_path):
    started = Background(["sleep", "50"], tmp_path, timeout_s=60)
    os.killpg(started.process.pid, signal.SIGKILL)
    started.process.wait()   # reaped, as the worker that started it does
    begun = time.monotonic()
    assert Background.attach(tmp_path, timeout_s=60).wait().returncode == -1
    assert time.monotonic() - begun < 5
    assert started.wait().returncode == -signal.SIGKILL
