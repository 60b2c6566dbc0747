"""Limits before work: the ASGI middleware every request passes before any route sees it.

``RequestGuard`` answers, without reading (or before finishing reading) a body:

* **413** when a body is larger than its path's limit: at once when ``Content-Length`` says so, else as
  soon as the bytes received pass the limit (a chunked body has no ``Content-Length``). Webhook limits are
  small (``Settings.twilio_max_body_bytes``, ``vapi_max_body_bytes``, ``admin_max_body_bytes``): a bounded
  body is parsed in bounded time, so no request can hold the event loop (and every call in flight) while
  it is parsed;
* **408** when a body does not arrive within ``Settings.body_timeout_seconds`` (a client sending one byte
  a second holds no more than a coroutine, but is not kept forever);
* **401** for ``/pms/*`` without the admin bearer token, and for ``/vapi/*`` with no credential header at
  all, before the body is read: those credentials do not depend on the body (an HMAC signature does, and
  is checked by the route on the bounded body).

The body that passed is handed to the app as one message, so routes read it from memory.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .settings import Settings

__all__ = ["BodyLimit", "RequestGuard", "admin_token_ok"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class BodyLimit:
    """At most ``max_bytes`` of body for paths starting with ``prefix``."""

    prefix: str
    max_bytes: int


class _TooLarge(Exception):
    pass


def admin_token_ok(settings: Settings, authorization: str) -> bool:
    """``Authorization: Bearer <admin token>``, compared in constant time."""
    scheme, _, token = authorization.partition(" ")
    expected = settings.admin_token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


def _has_vapi_credential(settings: Settings, headers: dict[str, str]) -> bool:
    """Whether a header that could authenticate the request is there at all (checked fully by the route)."""
    names = {"x-vapi-secret", settings.vapi_bearer_header.lower()}
    if settings.vapi_hmac_secret is not None:
        names |= {"x-signature"}
    return any(headers.get(name) for name in names)


class RequestGuard:
    """See the module docstring. ``limits`` are tried in order; ``default_max_bytes`` applies otherwise."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        limits: list[BodyLimit],
        default_max_bytes: int,
        body_timeout: float,
    ) -> None:
        self.app = app
        self.settings = settings
        self.limits = limits
        self.default_max_bytes = default_max_bytes
        self.body_timeout = body_timeout

    def limit_for(self, path: str) -> int:
        return next((lim.max_bytes for lim in self.limits if path.startswith(lim.prefix)), self.default_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if path.startswith("/pms/") and not admin_token_ok(self.settings, headers.get("authorization", "")):
            await _answer(
                send,
                401,
                {"detail": "the admin bearer token is required"},
                extra=((b"www-authenticate", b"Bearer"),),
            )
            return
        if path.startswith("/vapi/") and not _has_vapi_credential(self.settings, headers):
            await _answer(send, 401, {"error": "unauthorized"})
            return
        limit = self.limit_for(path)
        declared = headers.get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                await _answer(send, 400, {"error": "invalid Content-Length"})
                return
            if too_large:
                await _answer(send, 413, {"error": f"the body is larger than {limit} bytes"})
                return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE") and declared is None:
            await self.app(scope, receive, send)
            return
        try:
            body, more_messages = await asyncio.wait_for(_read_body(receive, limit), self.body_timeout)
        except _TooLarge:
            await _answer(send, 413, {"error": f"the body is larger than {limit} bytes"})
            return
        except asyncio.TimeoutError:  # TimeoutError itself only from Python 3.11
            await _answer(send, 408, {"error": "the body did not arrive in time"})
            return
        if more_messages is not None:  # the client went away while sending
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, Message | None]:
    """The whole body, never more than ``limit`` bytes of it held; a disconnect returns its message."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", message
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would say it

    return replay


async def _answer(
    send: Send, status: int, body: dict[str, str], *, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
