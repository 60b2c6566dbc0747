"""pms_connect: one typed, async-first API over dental practice-management systems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pms_connect.errors import (
    AmbiguousPatientError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DataReloadingError,
    InvalidArgumentError,
    KeyExpiredError,
    LockTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    PmsConnectionError,
    PmsError,
    PmsStatusError,
    PmsTimeoutError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
    SlotUnavailableError,
    StoreError,
    UnsupportedOperationError,
    VaultError,
    WaitTimeoutError,
    WritebackFailedError,
)
from pms_connect.models import (
    Appointment,
    BookingRequest,
    Capability,
    ConnectionCheck,
    FeatureSet,
    InsuranceCarrier,
    InsuranceCoverage,
    MatchStatus,
    NewPatient,
    Operatory,
    Patient,
    PatientMatch,
    PaymentRequest,
    Practice,
    Provider,
    ProviderKind,
    TimeSlot,
    Transaction,
    Writeback,
    WritebackKind,
    WritebackResult,
    WritebackState,
)
from pms_connect.pagination import AsyncPager, Page
from pms_connect.protocol import PmsProvider
from pms_connect.ratelimit import Priority, RateLimit, RateLimiter
from pms_connect.tokens import InMemoryTokenStore, Token, TokenManager, TokenStore

if TYPE_CHECKING:
    from pms_connect.vault import CredentialVault


def __getattr__(name: str) -> Any:
    # The vault is imported on first use: cryptography costs a process that never seals anything.
    if name == "CredentialVault":
        from pms_connect.vault import CredentialVault

        globals()[name] = CredentialVault
        return CredentialVault
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0.dev0"
"""The package's version (PEP 440)."""

__all__ = [
    "AmbiguousPatientError",
    "Appointment",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "BookingRequest",
    "Capability",
    "ConflictError",
    "ConnectionCheck",
    "CredentialVault",
    "DataReloadingError",
    "FeatureSet",
    "InMemoryTokenStore",
    "InsuranceCarrier",
    "InsuranceCoverage",
    "InvalidArgumentError",
    "KeyExpiredError",
    "LockTimeoutError",
    "MatchStatus",
    "NewPatient",
    "NotFoundError",
    "Operatory",
    "Page",
    "Patient",
    "PatientMatch",
    "PaymentRequest",
    "PermissionDeniedError",
    "PmsConnectionError",
    "PmsError",
    "PmsProvider",
    "PmsStatusError",
    "PmsTimeoutError",
    "Practice",
    "PreconditionFailedError",
    "Priority",
    "Provider",
    "ProviderKind",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "ServerError",
    "SlotUnavailableError",
    "StoreError",
    "TimeSlot",
    "Token",
    "TokenManager",
    "TokenStore",
    "Transaction",
    "UnsupportedOperationError",
    "VaultError",
    "WaitTimeoutError",
    "Writeback",
    "WritebackFailedError",
    "WritebackKind",
    "WritebackResult",
    "WritebackState",
    "__version__",
]
