"""Configuration of the receptionist adapter: one immutable object, read once from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from pms_connect.sikka import DEFAULT_BASE_URL

__all__ = ["ENV_PREFIX", "Settings", "SettingsError"]

ENV_PREFIX = "RECEPTIONIST_"

STORE_SCHEMES = ("memory", "sqlite", "redis", "rediss", "unix")
"""What ``pms_connect.stores.store_from_url`` builds a store from."""


class SettingsError(ValueError):
    """The configuration is incomplete or invalid; the message names fields, never their values."""


class Settings(BaseModel):
    """Everything the adapter needs to know that is not in its database.

    Secrets are ``pydantic.SecretStr``, so a settings repr or a log line never shows them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite:///receptionist.db"
    """SQLAlchemy URL of the adapter's own database (practices, phone numbers, call log)."""

    store_url: str = "sqlite:///receptionist-pms.db"
    """What every worker process shares with the others (``pms_connect.stores.store_from_url``): the PMS
    request keys, the write journal, the slot claims and the per-practice booking lock (so two callers never
    both get one slot), the rate budget and the writeback poller's lease. ``sqlite:///path`` (four slashes
    for an absolute path) serves the workers of one host; workers on several hosts must share a Redis:
    ``redis://host:6379/0`` or ``rediss://...`` (``?prefix=name`` namespaces the keys; extra ``redis``).
    ``memory://`` is for a single process only. Tokens and request bodies are sealed with the vault."""

    public_base_url: str = "http://127.0.0.1:8000"
    """The scheme and host Twilio calls, as Twilio sees them: behind a proxy or tunnel the URL the server
    sees differs from the one Twilio signed, so the signature is checked against this one."""

    admin_token: SecretStr = Field(min_length=16)
    """Bearer token for the ``/pms/*`` endpoints (they take and describe practice credentials)."""

    vault_keys: SecretStr
    """``id:base64`` vault keys, newest first (see the credentials guide); seals PMS credentials at rest."""

    vapi_secret: SecretStr | None = None
    """Shared secret of Vapi's server URL credential, sent as ``X-Vapi-Secret`` or as a bearer token."""

    vapi_bearer_header: str = "Authorization"
    """Header that carries the bearer token (Vapi's credential lets you rename it)."""

    vapi_hmac_secret: SecretStr | None = None
    """Secret of Vapi's HMAC credential: ``x-signature`` = hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""

    vapi_hmac_max_age_seconds: float | None = 300.0
    """Refuse HMAC-signed requests whose ``x-timestamp`` is older (or newer) than this; None: no check."""

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    """Keys the Twilio webhook signatures and authenticates the SMS API."""

    twilio_from_number: str | None = None
    """Sender of staff and patient SMS (or set ``twilio_messaging_service_sid``)."""

    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str = "https://api.twilio.com"

    sikka_base_url: str = DEFAULT_BASE_URL

    visit_minutes: int = Field(default=30, ge=5, le=480)
    """Length of a visit when the assistant does not say."""

    slots_offered: int = Field(default=3, ge=1, le=10)
    """How many open times the assistant reads out: a caller cannot keep more in mind."""

    search_days: int = Field(default=7, ge=1, le=31)
    """How far ahead availability looks when the caller names no date."""

    verification: Literal["name_and_birthdate", "birthdate"] = "name_and_birthdate"
    """What a caller must say before the assistant tells them anything about a chart or books for them.
    ``name_and_birthdate`` (the default): their first and last name and date of birth, which must match one
    chart (the calling number only narrows: caller ID can be spoofed). ``birthdate``: the date of birth of
    a chart with the calling number (a caller from another number still gives name and date of birth)."""

    booking_horizon_days: int = Field(default=365, ge=1, le=1_000)
    """How far ahead the assistant looks for and books times; a later date is answered in words."""

    twilio_max_body_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    """Largest Twilio webhook body accepted (a call or SMS webhook is about 1 KB); larger ones get 413."""

    vapi_max_body_bytes: int = Field(default=262_144, ge=4_096, le=8_388_608)
    """Largest Vapi message accepted (a tool call carries the conversation so far: tens of KB)."""

    admin_max_body_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    """Largest ``/pms/*`` body accepted (credentials and a phone line's settings)."""

    body_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """A request body must arrive within this long, or the request is answered 408."""

    @field_validator("store_url")
    @classmethod
    def _store_url_is_known(cls, url: str) -> str:
        # Only the scheme is ever quoted: the rest of a URL can carry a password.
        head, sep, rest = url.partition("://")
        scheme = head.lower() if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else None
        if scheme is None:
            raise ValueError("not a store URL: use memory://, sqlite:///path/to/pms.db or redis://host:6379/0")
        if scheme not in STORE_SCHEMES:
            raise ValueError(
                f"unknown store URL scheme {scheme!r}: use memory://, sqlite:///path/to/pms.db or redis://host:6379/0"
            )
        if scheme == "sqlite" and not (rest.startswith("/") and rest[1:]):
            raise ValueError("a SQLite store URL names a file: sqlite:///pms.db or sqlite:////abs/pms.db")
        return url

    @model_validator(mode="after")
    def _vapi_auth_is_configured(self) -> Settings:
        if self.vapi_secret is None and self.vapi_hmac_secret is None:
            raise ValueError("set vapi_secret or vapi_hmac_secret: Vapi's requests must be authenticated")
        return self

    @property
    def sms_configured(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from_number or self.twilio_messaging_service_sid)
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``RECEPTIONIST_<FIELD>`` variables (e.g. ``RECEPTIONIST_ADMIN_TOKEN``; ``off`` unsets an
        optional one). The vault keys fall back to ``PMS_CONNECT_VAULT_KEYS``, the SDK's own variable."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            value = env.get(ENV_PREFIX + name.upper())
            if value is not None and value != "":
                values[name] = None if value.lower() == "off" else value
        if "vault_keys" not in values and env.get("PMS_CONNECT_VAULT_KEYS"):
            values["vault_keys"] = env["PMS_CONNECT_VAULT_KEYS"]
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:  # its text would quote the input: secrets from the environment
            problems = [
                f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper() or '*'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise SettingsError("invalid settings: " + "; ".join(problems)) from None
