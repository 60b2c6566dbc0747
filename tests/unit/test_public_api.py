"""Pins the public surface: what ``pms_connect`` and ``pms_connect.sikka`` export. A change here is an API
change: update the pin on purpose, and the changelog with it."""

from __future__ import annotations

import importlib
from importlib import resources

import pytest

import pms_connect
import pms_connect.errors
import pms_connect.sikka

PUBLIC = {
    # errors
    "PmsError",
    "InvalidArgumentError",
    "PmsConnectionError",
    "PmsTimeoutError",
    "PmsStatusError",
    "BadRequestError",
    "AuthenticationError",
    "KeyExpiredError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "PreconditionFailedError",
    "RateLimitError",
    "ServerError",
    "SlotUnavailableError",
    "AmbiguousPatientError",
    "UnsupportedOperationError",
    "WritebackFailedError",
    "WaitTimeoutError",
    "StoreError",
    "DataReloadingError",
    "LockTimeoutError",
    "VaultError",
    # models
    "Appointment",
    "BookingRequest",
    "Capability",
    "ConnectionCheck",
    "FeatureSet",
    "InsuranceCarrier",
    "InsuranceCoverage",
    "MatchStatus",
    "NewPatient",
    "Operatory",
    "Patient",
    "PatientMatch",
    "PaymentRequest",
    "Practice",
    "Provider",
    "ProviderKind",
    "TimeSlot",
    "Transaction",
    "Writeback",
    "WritebackKind",
    "WritebackResult",
    "WritebackState",
    # machinery
    "AsyncPager",
    "Page",
    "PmsProvider",
    "Priority",
    "RateLimit",
    "RateLimiter",
    "InMemoryTokenStore",
    "Token",
    "TokenManager",
    "TokenStore",
    "CredentialVault",
    "__version__",
}


def test_documented_top_level_imports_work():
    from pms_connect import (  # noqa: F401
        AsyncPager,
        BookingRequest,
        NewPatient,
        PaymentRequest,
        PmsError,
        PmsProvider,
        RateLimit,
        TokenManager,
    )


def test_documented_sikka_imports_work():
    from pms_connect.sikka import SikkaCredentials, SikkaProvider  # noqa: F401


def test_top_level_all_is_pinned():
    assert set(pms_connect.__all__) == PUBLIC


def test_top_level_all_has_no_duplicates():
    assert len(pms_connect.__all__) == len(set(pms_connect.__all__))


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_exported_name_resolves(name):
    assert getattr(pms_connect, name) is not None


def test_sikka_all_is_pinned():
    assert set(pms_connect.sikka.__all__) == {
        "DEFAULT_BASE_URL",
        "SikkaCredentials",
        "SikkaProvider",
        "SikkaWriteOptions",
    }
    assert pms_connect.sikka.DEFAULT_BASE_URL == "https://api.sikkasoft.com/v4"


def test_errors_all_matches_the_error_names_reexported_at_the_top():
    assert set(pms_connect.errors.__all__) <= set(pms_connect.__all__)
    for name in pms_connect.errors.__all__:
        assert getattr(pms_connect, name) is getattr(pms_connect.errors, name)


@pytest.mark.parametrize("name", sorted(pms_connect.errors.__all__))
def test_every_error_derives_from_pms_error(name):
    assert issubclass(getattr(pms_connect.errors, name), pms_connect.PmsError)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        ("InvalidArgumentError", "PmsError"),
        ("InvalidArgumentError", "ValueError"),
        ("PmsTimeoutError", "PmsConnectionError"),
        ("BadRequestError", "PmsStatusError"),
        ("KeyExpiredError", "AuthenticationError"),
        ("AuthenticationError", "PmsStatusError"),
        ("PermissionDeniedError", "PmsStatusError"),
        ("NotFoundError", "PmsStatusError"),
        ("ConflictError", "PmsStatusError"),
        ("PreconditionFailedError", "PmsStatusError"),
        ("RateLimitError", "PmsStatusError"),
        ("ServerError", "PmsStatusError"),
    ],
)
def test_error_hierarchy(child, parent):
    parent_class = ValueError if parent == "ValueError" else getattr(pms_connect.errors, parent)
    assert issubclass(getattr(pms_connect.errors, child), parent_class)


def test_package_ships_py_typed():
    assert resources.files("pms_connect").joinpath("py.typed").is_file()


def test_version_is_a_string():
    assert isinstance(pms_connect.__version__, str)


def test_fake_clock_is_importable_from_testing():
    module = importlib.import_module("pms_connect.testing.clock")

    assert hasattr(module, "FakeClock")


def test_the_version_is_written_in_one_place_and_matches_the_installed_metadata():
    from importlib.metadata import version
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert version("pms-connect") == pms_connect.__version__
    assert 'dynamic = ["version"]' in (root / "pyproject.toml").read_text()
    assert "MIT License" in (root / "LICENSE").read_text()
