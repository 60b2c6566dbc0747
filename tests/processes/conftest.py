"""Real worker processes against one sandbox served on loopback: fixtures and the worker driver.

The sandbox runs in this process (uvicorn in a thread), so a test can read its world directly; each worker is
a separate Python process (``worker.py``) with its own SikkaProvider, sharing only a SqliteStore file.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pms_connect.testing import FakeClock, SikkaSandbox

from ..served import Served, serve

WORKER = Path(__file__).with_name("worker.py")


@pytest.fixture
def frozen() -> Iterator[Served]:
    """A sandbox whose clock stands still (at the real now): writes are queued and never applied until the
    test moves time on, so that only the workers' shared store can stop a double booking."""
    clock = FakeClock(start=datetime.now(timezone.utc))
    yield from serve(SikkaSandbox(seed=5, clock=clock, writeback_delay=timedelta(seconds=60), rate_limit=100_000))


@pytest.fixture
def live() -> Iterator[Served]:
    """A sandbox on the real clock that applies writes a second after they are queued. Its budget is high: the
    tests here are about crashes and races, and a dozen fast-polling workers would spend 250 requests a
    minute (a write refused with 429 four times never reaches the PMS, which is right, but not the test)."""
    yield from serve(SikkaSandbox(seed=5, writeback_delay=timedelta(seconds=1), rate_limit=100_000))


class Worker:
    """One worker process: send it a command, read its one-line JSON answer."""

    def __init__(self, served: Served, db: Path, **config: Any) -> None:
        sandbox = served.sandbox
        settings = {
            "base_url": served.base_url,
            "db": str(db),
            "timezone": sandbox.timezone,
            "credentials": {
                **sandbox.credentials.model_dump(),
                "app_key": sandbox.credentials.app_key.get_secret_value(),
                "secret_key": sandbox.credentials.secret_key.get_secret_value(),
            },
            **config,
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own worker script
            [sys.executable, str(WORKER), json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")  # the process ended

    def answer(self, timeout: float = 60) -> dict[str, Any] | None:
        """The next answer, or None if the process ended first."""
        line = self._lines.get(timeout=timeout)
        return json.loads(line) if line else None

    def ready(self) -> None:
        assert self.answer() == {"ready": True}

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def ask(self, command: dict[str, Any], timeout: float = 60) -> dict[str, Any] | None:
        self.send(command)
        return self.answer(timeout)

    def stop(self) -> int:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):  # it may have died meanwhile
                self.send({"op": "exit"})
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)
        finally:
            # Close our end now: a line left in the buffer of a pipe whose reader died would otherwise be
            # flushed at garbage collection, and its BrokenPipeError reported as an unraisable exception.
            assert self.process.stdin is not None
            with contextlib.suppress(OSError):
                self.process.stdin.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    """Started workers, stopped after the test."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()
