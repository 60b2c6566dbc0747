"""Open Dental API credentials: the developer's key and the practice's customer key."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["OpenDentalCredentials"]


class OpenDentalCredentials(BaseModel):
    """Credentials for one practice at Open Dental's API.

    ``developer_key`` is the developer's (one per developer, from the Developer Portal); ``customer_key`` is
    the practice's (one per practice and developer, pasted by the office into Setup > Advanced Setup > API).
    Every request carries ``Authorization: ODFHIR {developer_key}/{customer_key}``. Both are
    ``pydantic.SecretStr``, so they never appear in a repr or a log line. ``clinic_num`` picks one clinic
    of a practice that uses clinics (None: the whole practice, or one without clinics).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)
    """Frozen: credentials never change under a provider that uses them."""

    developer_key: SecretStr
    customer_key: SecretStr
    clinic_num: str | None = Field(default=None, min_length=1, pattern=r"^\d+$")

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header's value (a secret: never log it)."""
        return f"ODFHIR {self.developer_key.get_secret_value()}/{self.customer_key.get_secret_value()}"

    @property
    def key_digest(self) -> str:
        """A stable, secret-free name for the customer key: Open Dental throttles per customer key, so the
        rate budget, locks and journal of a practice are keyed on it, never on the key itself."""
        digest = hashlib.sha256(self.customer_key.get_secret_value().encode("utf-8")).hexdigest()
        return digest[:16]
