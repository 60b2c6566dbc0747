"""``create_app``: the receptionist adapter as a FastAPI app, with every outside dependency injectable.

``from_env`` is the same app built from ``RECEPTIONIST_*`` variables, for an ASGI server that starts
several worker processes (each calls it)::

    uvicorn examples.fastapi_receptionist.app:from_env --factory --workers 4
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from pms_connect import CredentialVault, PmsProvider
from pms_connect.errors import InvalidArgumentError, VaultError
from pms_connect.opendental import OpenDentalProvider
from pms_connect.sikka import SikkaCredentials, SikkaProvider
from pms_connect.stores import Store, store_from_url

from . import pms_routes, twilio_routes, vapi_routes
from .connections import OpenDentalConnection, PmsConnections, PmsFactories, PmsFactory
from .db import Database
from .guards import BodyLimit, RequestGuard
from .pms_routes import INVALID_PROVIDER
from .services import Services
from .settings import ENV_PREFIX, Settings, SettingsError
from .sms import DisabledSms, SmsSender, TwilioSms

__all__ = ["create_app", "from_env", "open_store", "opendental_factory", "real_factories", "sikka_factory"]

logger = logging.getLogger("examples.fastapi_receptionist")

_STARTUP_FAILURE = 3
"""uvicorn's exit code for a worker that cannot start: its supervisor then stops rather than restart it."""


def sikka_factory(settings: Settings) -> PmsFactory[SikkaCredentials]:
    """Real Sikka ONE providers on the process's store (``settings.sikka_base_url`` may point at a served
    sandbox)."""

    def build(credentials: SikkaCredentials, zone: str, store: Store) -> PmsProvider:
        return SikkaProvider(credentials, timezone=zone, base_url=settings.sikka_base_url, store=store)

    return build


def opendental_factory() -> PmsFactory[OpenDentalConnection]:
    """Real Open Dental providers on the process's store, reaching each practice as its setup said (its
    ``mode`` and ``base_url``, which may point at a served ``OpenDentalSandbox``)."""

    def build(connection: OpenDentalConnection, zone: str, store: Store) -> PmsProvider:
        return OpenDentalProvider(
            connection.credentials, timezone=zone, mode=connection.mode, base_url=connection.base_url, store=store
        )

    return build


def real_factories(settings: Settings) -> PmsFactories:
    """The factory of every provider, for real."""
    return {"sikka": sikka_factory(settings), "opendental": opendental_factory()}


def open_store(settings: Settings, vault: CredentialVault) -> Store:
    """The store ``settings.store_url`` names, sealing what it keeps with ``vault``. A URL the SDK refuses
    (or a ``redis://`` one without the redis extra) is a ``SettingsError`` naming the setting, never
    the URL (it may carry a password)."""
    try:
        return store_from_url(settings.store_url, vault=vault)
    except (InvalidArgumentError, ImportError) as exc:
        raise SettingsError(f"invalid settings: {ENV_PREFIX}STORE_URL: {exc}") from None


def _default_sms(settings: Settings) -> SmsSender:
    if not settings.sms_configured:
        return DisabledSms()
    assert settings.twilio_account_sid is not None
    assert settings.twilio_auth_token is not None
    return TwilioSms(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        api_base=settings.twilio_api_base,
    )


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def create_app(
    settings: Settings,
    *,
    pms_factories: PmsFactories | None = None,
    sms_sender: SmsSender | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the app. ``pms_factories`` maps a provider name (``"sikka"``, ``"opendental"``) to what builds a
    practice's provider of that kind from its credentials, time zone and the process's store (any left out:
    the real one, ``real_factories``), ``sms_sender`` sends texts (default: Twilio when configured), ``clock``
    returns the current aware time (tests pass a ``FakeClock``'s ``now``). The database tables are created
    here (safely when several workers start at once); the store is opened at start-up, one per process and
    shared by every practice's provider, and closed at shutdown after them."""
    db = Database(settings.database_url)
    db.create_all()
    vault = CredentialVault.from_string(settings.vault_keys.get_secret_value(), source="the vault_keys setting")
    owns_sms = sms_sender is None
    factories = real_factories(settings)
    factories.update(pms_factories or {})
    svc = Services(
        settings=settings,
        db=db,
        vault=vault,
        connections=PmsConnections(vault, factories),
        sms=sms_sender or _default_sms(settings),
        now=clock or _utc_now,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store: Store | None = None
        try:
            store = open_store(settings, vault)
            svc.connections.open(store)
            yield
        finally:
            try:
                await svc.drain()
                await svc.connections.aclose()  # stops the writeback pollers
            finally:
                if store is not None:
                    await store.aclose()  # after the providers: their pollers used it until now
                if owns_sms:
                    await svc.sms.aclose()
                db.dispose()

    app = FastAPI(title="pms_connect receptionist", version="0.1.0", lifespan=lifespan)
    app.state.services = svc
    app.include_router(pms_routes.router)
    app.include_router(vapi_routes.router)
    app.include_router(twilio_routes.router)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(
        RequestGuard,
        settings=settings,
        limits=[
            BodyLimit("/twilio/", settings.twilio_max_body_bytes),
            BodyLimit("/vapi/", settings.vapi_max_body_bytes),
            BodyLimit("/pms/", settings.admin_max_body_bytes),
        ],
        default_max_bytes=settings.admin_max_body_bytes,
        body_timeout=settings.body_timeout_seconds,
    )

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        await svc.db.ping()
        return {"status": "ok"}

    return app


def from_env() -> FastAPI:
    """The app from ``RECEPTIONIST_*`` variables: the factory for ``uvicorn ... --factory --workers N``, which
    every worker process calls. Invalid settings (or vault keys) stop the server, rather than a restart loop
    of dying workers; the message names the setting and the problem, never a value."""
    try:
        return create_app(Settings.from_env())
    except (SettingsError, VaultError) as exc:
        logger.error("%s", exc)
        raise SystemExit(_STARTUP_FAILURE) from None


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 echoes the offending input, which may be a secret key or PHI: keep where and what."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": _where(e), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)


def _where(error: dict[str, Any]) -> list[Any]:
    """The error's location; a setup body's unknown provider is placed at its field (pydantic places a union's
    discriminator error at the union itself)."""
    loc = list(error.get("loc", ()))
    return [*loc, "provider"] if error.get("type") == INVALID_PROVIDER else loc
