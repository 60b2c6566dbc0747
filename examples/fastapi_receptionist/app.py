"""``create_app``: the receptionist adapter as a FastAPI app, with every outside dependency injectable."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from pms_connect import CredentialVault, PmsProvider
from pms_connect.sikka import SikkaCredentials, SikkaProvider

from . import pms_routes, twilio_routes, vapi_routes
from .connections import PmsConnections, PmsFactory
from .db import Database
from .services import Services
from .settings import Settings
from .sms import DisabledSms, SmsSender, TwilioSms

__all__ = ["create_app", "sikka_factory"]

logger = logging.getLogger("examples.fastapi_receptionist")


def sikka_factory(settings: Settings) -> PmsFactory:
    """Real Sikka ONE providers (``settings.sikka_base_url`` may point at a served sandbox)."""

    def build(credentials: SikkaCredentials, zone: str) -> PmsProvider:
        return SikkaProvider(credentials, timezone=zone, base_url=settings.sikka_base_url)

    return build


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
    pms_factory: PmsFactory | None = None,
    sms_sender: SmsSender | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the app. ``pms_factory`` builds a practice's provider from its credentials and time zone
    (default: Sikka), ``sms_sender`` sends texts (default: Twilio when configured), ``clock`` returns the
    current aware time (tests pass a ``FakeClock``'s ``now``). The database tables are created here."""
    db = Database(settings.database_url)
    db.create_all()
    vault = CredentialVault.from_string(settings.vault_keys.get_secret_value(), source="the vault_keys setting")
    owns_sms = sms_sender is None
    svc = Services(
        settings=settings,
        db=db,
        vault=vault,
        connections=PmsConnections(vault, pms_factory or sikka_factory(settings)),
        sms=sms_sender or _default_sms(settings),
        now=clock or _utc_now,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await svc.drain()
            await svc.connections.aclose()  # stops the writeback pollers
            if owns_sms:
                await svc.sms.aclose()
            db.dispose()

    app = FastAPI(title="pms_connect receptionist", version="0.1.0", lifespan=lifespan)
    app.state.services = svc
    app.include_router(pms_routes.router)
    app.include_router(vapi_routes.router)
    app.include_router(twilio_routes.router)
    app.add_exception_handler(RequestValidationError, _invalid_request)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        await svc.db.ping()
        return {"status": "ok"}

    return app


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 echoes the offending input, which may be a secret key or PHI: keep where and what."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)
