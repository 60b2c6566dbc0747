"""The exception hierarchy of pms_connect.

Every error the SDK raises derives from [PmsError][pms_connect.errors.PmsError]:

    PmsError
    ├── InvalidArgumentError          bad input, raised before any request is sent (also a ValueError)
    ├── PmsConnectionError            the request may not have reached the PMS
    │   └── PmsTimeoutError
    ├── PmsStatusError                the PMS answered with an error status
    │   ├── BadRequestError           400 / 422
    │   ├── AuthenticationError       401, missing or wrong key
    │   │   └── KeyExpiredError       the request key expired (refresh and replay)
    │   ├── PermissionDeniedError     the API is not in the plan, or the practice is not authorized
    │   ├── NotFoundError             404
    │   ├── ConflictError             409, the record already exists
    │   ├── PreconditionFailedError   412, a condition the PMS needs for the request is not met
    │   ├── RateLimitError            429
    │   └── ServerError               5xx
    ├── SlotUnavailableError          the slot was taken between search and booking
    ├── AmbiguousPatientError         more than one patient matches equally well
    ├── UnsupportedOperationError     the practice's PMS does not support the operation
    ├── DataReloadingError            the PMS bridge is reloading the practice's data: reads may be partial
    ├── WritebackFailedError          the PMS refused or never applied a queued write
    ├── WaitTimeoutError              wait() gave up waiting; the write itself is still tracked
    ├── StoreError                    the store (tokens, holds, journal) could not be read or written
    │   └── LockTimeoutError          another worker held a store lock for too long
    └── VaultError                    a credential could not be sealed or opened

Messages never contain PHI or secrets: they name codes, statuses and request paths, not values.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousPatientError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DataReloadingError",
    "InvalidArgumentError",
    "KeyExpiredError",
    "LockTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "PmsConnectionError",
    "PmsError",
    "PmsStatusError",
    "PmsTimeoutError",
    "PreconditionFailedError",
    "RateLimitError",
    "ServerError",
    "SlotUnavailableError",
    "StoreError",
    "UnsupportedOperationError",
    "VaultError",
    "WaitTimeoutError",
    "WritebackFailedError",
]


class PmsError(Exception):
    """Root of every pms_connect error.

    ``code`` is the provider's own error code (e.g. Sikka's ``API1025``), ``status_code`` the HTTP status,
    ``request`` a PHI-free summary such as ``"GET /v4/patients"``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        request: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        """What went wrong, without PHI or secrets; ``str(error)`` adds the request, code and status."""
        self.code = code
        """The provider's own error code, when it sent one."""
        self.status_code = status_code
        """The HTTP status, when the PMS answered."""
        self.request = request
        """A PHI-free summary of the request, such as ``"GET /v4/patients"``."""

    def __str__(self) -> str:
        """The message, then the request, code and status: a log line says what failed where, without PHI."""
        details = [part for part in (self.request, self.code, self._status_text()) if part]
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def _status_text(self) -> str | None:
        return f"HTTP {self.status_code}" if self.status_code is not None else None

    def __repr__(self) -> str:
        """The class and ``str(error)``, no more: a repr in a traceback shows no more than the message does."""
        return f"{type(self).__name__}({str(self)!r})"


class InvalidArgumentError(PmsError, ValueError):
    """An argument is invalid; raised before any request is sent."""


class PmsConnectionError(PmsError):
    """The PMS could not be reached, or the connection broke before an answer came.

    ``request_sent`` is False only when the request provably never left (the connection could not be
    opened); a write whose request may have been sent must be reconciled, never blindly retried.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        request: str | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, code=code, status_code=status_code, request=request)
        self.request_sent = request_sent
        """False only when the request provably never left, so that it is safe to send again."""


class PmsTimeoutError(PmsConnectionError):
    """The request timed out."""


class PmsStatusError(PmsError):
    """The PMS answered with an error status. ``body`` keeps the provider's raw error fields; ``retryable``
    is False for a failure that a retry within seconds cannot fix (a daily quota, data not uploaded yet)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        request: str | None = None,
        body: dict[str, str] | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message, code=code, status_code=status_code, request=request)
        self.body = body or {}
        """The provider's raw error fields, as it sent them."""
        self.retryable = retryable
        """False for a failure that a retry within seconds cannot fix."""


class BadRequestError(PmsStatusError):
    """The PMS refused the request as malformed (400) or unprocessable (422)."""


class AuthenticationError(PmsStatusError):
    """The credentials or the request key were missing or wrong."""


class KeyExpiredError(AuthenticationError):
    """The request key expired; the SDK refreshes it and replays the request once."""


class PermissionDeniedError(PmsStatusError):
    """The API is not in the app's plan, or the practice has not authorized the app."""


class NotFoundError(PmsStatusError):
    """The record or endpoint does not exist."""


class ConflictError(PmsStatusError):
    """The record already exists."""


class PreconditionFailedError(PmsStatusError):
    """The PMS refused the request (412) because a condition it needs is not met, and did nothing. Which
    condition that is depends on the provider: its page under Providers says."""


class RateLimitError(PmsStatusError):
    """The request or data quota is exhausted. ``retry_after`` is the server's hint in seconds;
    ``retryable`` is False for a quota that will not come back within minutes (a daily quota)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        request: str | None = None,
        body: dict[str, str] | None = None,
        retry_after: float | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(
            message, code=code, status_code=status_code, request=request, body=body, retryable=retryable
        )
        self.retry_after = retry_after
        """The server's hint, in seconds, of when to try again; None without one."""


class ServerError(PmsStatusError):
    """The PMS failed (5xx)."""


class SlotUnavailableError(PmsError):
    """The requested slot is no longer free."""


class AmbiguousPatientError(PmsError):
    """More than one patient matches equally well; the SDK never guesses."""


class UnsupportedOperationError(PmsError):
    """The practice's PMS (or the app's plan) does not support this operation."""


class DataReloadingError(PmsError):
    """The PMS bridge is reloading the practice's data (Sikka's ``Data-Insert: in progress``): an answer now
    may be partial, so the SDK raises rather than return it. Read again later; nothing was written."""


class WritebackFailedError(PmsError):
    """A queued write failed at the PMS, timed out or was cancelled."""


class WaitTimeoutError(PmsError):
    """``wait()`` stopped waiting for a write that is still pending at the PMS. Nothing was withdrawn: the
    write is still tracked and may yet be applied; wait again, or cancel it."""


class StoreError(PmsError):
    """The store (request keys, slot holds, the write journal) could not be read or written.

    A write whose intent cannot be journaled is never sent; a poller that cannot update the journal tells
    every waiter of the affected handles."""


class LockTimeoutError(StoreError):
    """Another worker held a store lock (a request-key refresh, a practice's booking lock) for too long."""


class VaultError(PmsError):
    """A secret could not be sealed or opened. The message never holds key material or plaintext."""
