"""``/pms/*``: connect a practice's PMS (tested before anything is stored), its status, its phone numbers.

A practice is set up with Sikka ONE (the default) or Open Dental's API: the body's ``provider`` chooses,
and the rest of it is that provider's credentials (``SikkaSetup``, ``OpenDentalSetup``).

These endpoints take and describe practice credentials, so they need the admin bearer token. Credentials
are sealed with the vault under the account id before they reach the database, and never echoed back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, field_validator, model_validator
from pydantic.alias_generators import to_camel

from pms_connect import PmsError
from pms_connect.errors import InvalidArgumentError
from pms_connect.opendental import OpenDentalMode
from pms_connect.sikka import SikkaCredentials

from .connections import PROVIDERS, OpenDentalConnection
from .db import IntegrationMethod, PhoneNumber, Practice
from .guards import admin_token_ok
from .services import ServicesDep

__all__ = ["OpenDentalSetup", "PhoneNumberSettings", "PracticeStatus", "SetupRequest", "SikkaSetup", "router"]

E164 = r"^\+[1-9][0-9]{6,14}$"
ACCOUNT_ID = r"^[A-Za-z0-9_.:-]{1,128}$"


def require_admin(request: Request, svc: ServicesDep) -> None:
    """Also checked by ``RequestGuard`` before the body is read; here for any route mounted without it."""
    if not admin_token_ok(svc.settings, request.headers.get("authorization", "")):
        raise HTTPException(401, "the admin bearer token is required", headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/pms", tags=["pms"], dependencies=[Depends(require_admin)])


class _Api(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class _Setup(_Api):
    """What every practice's setup names: its account and time zone (the PMSs send wall-clock times without
    one)."""

    account_id: str = Field(pattern=ACCOUNT_ID)
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone such as America/Chicago") from None
        return value


class SikkaSetup(_Setup):
    """A practice on Sikka ONE: its Sikka credentials (``provider`` may be left out: Sikka is the default)."""

    provider: Literal["sikka"] = "sikka"
    app_id: str = Field(min_length=1, max_length=200)
    app_key: SecretStr = Field(min_length=1, max_length=500)
    office_id: str = Field(min_length=1, max_length=200)
    secret_key: SecretStr = Field(min_length=1, max_length=500)
    practice_id: str = Field(default="1", min_length=1, max_length=50)

    def credentials(self) -> SikkaCredentials:
        return SikkaCredentials(
            app_id=self.app_id,
            app_key=self.app_key,
            office_id=self.office_id,
            secret_key=self.secret_key,
            practice_id=self.practice_id,
        )


class OpenDentalSetup(_Setup):
    """A practice on Open Dental's API: the developer's key, the practice's customer key, optionally one of
    its clinics, and how to reach it (``mode``; ``baseUrl`` replaces the mode's URL, in ``waterfall`` the
    API Service's)."""

    provider: Literal["opendental"]
    developer_key: SecretStr = Field(min_length=1, max_length=500)
    customer_key: SecretStr = Field(min_length=1, max_length=500)
    clinic_num: str | None = Field(default=None, pattern=r"^[0-9]{1,18}$")
    mode: OpenDentalMode = "remote"
    base_url: str | None = Field(default=None, max_length=300)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError):
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError("not an http:// or https:// URL such as http://192.168.1.10:30223/api/v1")
        return value

    def credentials(self) -> OpenDentalConnection:
        return OpenDentalConnection(
            developer_key=self.developer_key,
            customer_key=self.customer_key,
            clinic_num=self.clinic_num,
            mode=self.mode,
            base_url=self.base_url,
        )


def _provider_of(body: Any) -> str | None:
    """The setup body's provider, ``"sikka"`` when it names none; None for anything else (a 422)."""
    value = body.get("provider", "sikka") if isinstance(body, dict) else getattr(body, "provider", None)
    return value if value in PROVIDERS else None


INVALID_PROVIDER = "invalid_provider"
"""The error type of a setup body naming no provider this service connects to (``app.py`` places it at
``provider``)."""

SetupRequest = Annotated[
    Annotated[SikkaSetup, Tag("sikka")] | Annotated[OpenDentalSetup, Tag("opendental")],
    Discriminator(
        _provider_of,
        custom_error_type=INVALID_PROVIDER,
        custom_error_message="provider must be 'sikka' (the default) or 'opendental'",
    ),
]
"""A practice's setup: ``SikkaSetup`` or ``OpenDentalSetup``, chosen by ``provider``."""


class PracticeStatus(_Api):
    account_id: str
    provider: str
    connected: bool
    practice_name: str | None
    pms_name: str | None
    timezone: str
    capabilities: list[str]
    last_check_at: datetime | None
    last_check_error: str | None


class PhoneNumberSettings(_Api):
    """How calls to one of the practice's numbers are routed (the original backend's per-number fields)."""

    account_id: str = Field(pattern=ACCOUNT_ID)
    twilio_number: str = Field(pattern=E164)
    original_phone_number: str | None = Field(default=None, pattern=E164)
    vapi_phone_number_id: str | None = Field(default=None, max_length=128)
    vapi_assistant_id: str | None = Field(default=None, max_length=128)
    integration_method: IntegrationMethod = IntegrationMethod.FORWARDED
    sip_uri: str | None = Field(default=None, pattern=r"^sips?:\S+$", max_length=300)
    ai_enabled: bool = True
    transfer_enabled: bool = True
    staff_forward_number: str | None = Field(default=None, pattern=E164)
    staff_sms_number: str | None = Field(default=None, pattern=E164)

    @model_validator(mode="after")
    def _sip_needs_a_uri(self) -> PhoneNumberSettings:
        if self.integration_method is IntegrationMethod.SIP and not self.sip_uri:
            raise ValueError("integrationMethod 'sip' needs a sipUri")
        return self


def _status(practice: Practice) -> PracticeStatus:
    return PracticeStatus(
        account_id=practice.account_id,
        provider=practice.provider,
        connected=practice.connection_ok,
        practice_name=practice.practice_name,
        pms_name=practice.pms_name,
        timezone=practice.timezone,
        capabilities=list(practice.capabilities),
        last_check_at=practice.last_check_at,
        last_check_error=practice.last_check_error,
    )


def _refused(reason: str | None) -> JSONResponse:
    return JSONResponse(
        {"error": "the PMS connection test failed; nothing was stored", "reason": reason or "unknown"},
        status_code=422,
    )


@router.post(
    "/setup", response_model=PracticeStatus, responses={422: {"description": "the connection test failed"}}
)
async def setup(body: SetupRequest, svc: ServicesDep) -> PracticeStatus | JSONResponse:
    """Test the credentials, read the PMS's features, then store the credentials sealed."""
    credentials = body.credentials()
    try:
        provider = svc.connections.build(credentials, body.timezone)
    except InvalidArgumentError as exc:  # e.g. a base URL the SDK refuses
        return _refused(exc.message)
    adopted = False
    try:
        check = await provider.test_connection()
        if not check.ok:
            return _refused(check.error)
        try:
            features = await provider.get_features()
        except PmsError as exc:
            return _refused(f"the features could not be read: {exc}")
        now = svc.now()
        existing = await svc.db.get_practice(body.account_id)
        practice = await svc.db.save_practice(
            Practice(
                account_id=body.account_id,
                provider=body.provider,
                practice_name=check.practice_name,
                pms_name=features.pms_name or check.pms_name,
                timezone=body.timezone,
                sealed_credentials=svc.vault.seal(credentials, context=body.account_id),
                capabilities=sorted(c.value for c in features.capabilities),
                connection_ok=True,
                last_check_at=now,
                last_check_error=None,
                created_at=existing.created_at if existing else now,
                updated_at=now,
            )
        )
        await svc.connections.replace(practice, provider)  # already authenticated: keep it
        adopted = True
        return _status(practice)
    finally:
        if not adopted:
            await provider.aclose()


@router.get("/status", response_model=PracticeStatus)
async def status(
    account_id: Annotated[str, Query(alias="accountId", pattern=ACCOUNT_ID)],
    svc: ServicesDep,
    refresh: bool = False,
) -> PracticeStatus:
    """The last connection check (or a fresh one with ``refresh=true``), the PMS and what it supports."""
    practice = await svc.db.get_practice(account_id)
    if practice is None:
        raise HTTPException(404, "no practice is set up under this account id")
    if refresh:
        check = await (await svc.connections.get(practice)).test_connection()
        await svc.db.record_check(account_id, ok=check.ok, error=check.error, at=svc.now())
        practice = await svc.db.get_practice(account_id) or practice
    return _status(practice)


@router.put("/phone-numbers", response_model=PhoneNumberSettings)
async def save_phone_number(body: PhoneNumberSettings, svc: ServicesDep) -> PhoneNumberSettings:
    """Create or update the routing of one Twilio number (keyed by ``twilioNumber``)."""
    if await svc.db.get_practice(body.account_id) is None:
        raise HTTPException(404, "no practice is set up under this account id")
    saved = await svc.db.save_phone_number(body.model_dump())
    return _phone_settings(saved)


def _phone_settings(row: PhoneNumber) -> PhoneNumberSettings:
    return PhoneNumberSettings(
        account_id=row.account_id,
        twilio_number=row.twilio_number,
        original_phone_number=row.original_phone_number,
        vapi_phone_number_id=row.vapi_phone_number_id,
        vapi_assistant_id=row.vapi_assistant_id,
        integration_method=row.integration_method,
        sip_uri=row.sip_uri,
        ai_enabled=row.ai_enabled,
        transfer_enabled=row.transfer_enabled,
        staff_forward_number=row.staff_forward_number,
        staff_sms_number=row.staff_sms_number,
    )
