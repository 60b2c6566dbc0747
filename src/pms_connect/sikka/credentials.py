"""Sikka ONE credentials: an app pair and a practice (office) pair."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["SikkaCredentials"]


class SikkaCredentials(BaseModel):
    """Credentials for one practice at Sikka.

    ``app_id``/``app_key`` identify the application; ``office_id``/``secret_key`` come from
    ``authorized_practices``; ``practice_id`` picks one practice of a multi-practice office.
    The keys are ``pydantic.SecretStr``, so they never appear in a repr or a log line.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)
    """Frozen: credentials never change under a provider that uses them."""

    app_id: str = Field(min_length=1)
    app_key: SecretStr
    office_id: str = Field(min_length=1)
    secret_key: SecretStr
    practice_id: str = Field(default="1", min_length=1)

    @property
    def token_key(self) -> str:
        """The key under which this practice's request key is stored (no secret in it)."""
        return f"sikka:{self.app_id}:{self.office_id}"
