"""What every route needs, built once per app: settings, database, vault, PMS connections, SMS, clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import Depends, Request

from pms_connect import CredentialVault

from .connections import PmsConnections
from .db import Database
from .settings import Settings
from .sms import SmsError, SmsSender

__all__ = ["Services", "ServicesDep", "services"]

logger = logging.getLogger("examples.fastapi_receptionist")

Now = Callable[[], datetime]


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: CredentialVault
    connections: PmsConnections
    sms: SmsSender
    now: Now
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, object], *, name: str) -> None:
        """Run ``work`` after answering (a text to staff must not delay the caller's answer)."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed: %s", task.get_name(), type(task.exception()).__name__)

    async def text(self, to: str | None, body: str, *, purpose: str) -> bool:
        """Send an SMS; False (and a PHI-free log line) when it cannot be sent. Never raises."""
        if not to:
            logger.warning("no number to text for %s", purpose)
            return False
        try:
            sent = await self.sms.send(to, body)
        except SmsError as exc:
            logger.warning("SMS for %s failed: %s", purpose, exc)
            return False
        logger.info("SMS for %s sent: %s (%s)", purpose, sent.sid or "no id", sent.status)
        return True

    async def drain(self, timeout: float = 10.0) -> None:
        """Let background work finish (on shutdown), then cancel what is left."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


def services(request: Request) -> Services:
    """FastAPI dependency: the app's ``Services``."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(services)]
