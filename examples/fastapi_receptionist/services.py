"""What every route needs, built once per app: settings, database, vault, PMS connections, SMS, clock."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import Depends, Request

from pms_connect import CredentialVault
from pms_connect.matching import normalize_phone

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

    # -- what the call log keeps about a caller --------------------------------------------------------

    def seal_for_call(self, call_id: str, value: dict[str, Any]) -> str:
        """A vault envelope of ``value`` that opens only for this call's row."""
        return self.vault.seal(value, context=f"call:{call_id}")

    def open_for_call(self, call_id: str, sealed: str) -> dict[str, Any]:
        return self.vault.open(sealed, context=f"call:{call_id}")

    def caller_key(self, phone: str | None) -> str | None:
        """A keyed digest of a phone number's digits: the call log finds a caller again by it (when they
        answer a text), and without the vault keys it cannot be turned back into the number. The key is
        derived from the vault keys, so rotating them orphans the digests of earlier calls (a reply to an
        older confirmation text is then answered as if no booking were found)."""
        digits = normalize_phone(phone)
        if digits is None:
            return None
        key = hashlib.sha256(b"receptionist caller key\0" + self.settings.vault_keys.get_secret_value().encode())
        return hmac.new(key.digest(), digits.encode(), hashlib.sha256).hexdigest()

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
