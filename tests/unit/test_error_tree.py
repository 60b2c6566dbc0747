"""One error tree: every error the SDK exports derives from PmsError, the tree its docs draw is the real one,
and a bad argument to a public constructor or function is an InvalidArgumentError (so also a ValueError)
raised before anything else happens.

pydantic's ValidationError from a model the caller builds (``BookingRequest(duration=-1, ...)``) is the
caller's own construction and stays pydantic's (a ValueError too); where the SDK validates a model itself it
raises its own error instead (the vault: VaultError; Sikka's answers: PmsStatusError).
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import pms_connect
import pms_connect.errors
from pms_connect.errors import InvalidArgumentError, PmsError, StoreError, VaultError
from pms_connect.http import RateLimitHeaders, RetryPolicy
from pms_connect.models import BookingRequest, Writeback, WritebackKind
from pms_connect.pagination import AsyncPager, Page
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.sikka import SikkaCredentials
from pms_connect.sikka._client import SikkaClient
from pms_connect.stores import MemoryStore, RedisStore, SqliteStore, store_from_url
from pms_connect.tokens import Token, TokenManager
from pms_connect.validation import check_count, check_seconds
from pms_connect.vault import CredentialVault
from pms_connect.writeback import PollSchedule, WritebackPoller

ROOT = Path(__file__).resolve().parents[2]

# Exported exception classes that are not errors of a call into the SDK, each with the reason.
NOT_RAISED_TO_CALLERS = {
    # The fake Sikka's signal inside its own request handlers: answered as an HTTP error body, never raised
    # out of the sandbox to a caller.
    "pms_connect.sikka.sandbox.wire.SikkaError",
    # The same for the fake Open Dental: a refusal answered as Open Dental's text body.
    "pms_connect.opendental.sandbox.wire.OdRefusal",
}


def public_modules() -> list[ModuleType]:
    names = {"pms_connect"}
    for info in pkgutil.walk_packages(pms_connect.__path__, "pms_connect."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.add(info.name)
    return [importlib.import_module(name) for name in sorted(names)]


def exported_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class a public module lists in ``__all__``, by where it is defined."""
    found: dict[str, type[BaseException]] = {}
    for module in public_modules():
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if isinstance(value, type) and issubclass(value, BaseException):
                found[f"{value.__module__}.{value.__qualname__}"] = value
            else:
                assert not name.endswith("Error"), f"{module.__name__}.{name} is named an error but is not one"
    return found


def errors_module_classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(pms_connect.errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == "pms_connect.errors"
    }


# -- the tree ------------------------------------------------------------------------------------------------


def test_every_exported_error_derives_from_pms_error() -> None:
    exported = exported_exceptions()
    assert len(exported) >= len(errors_module_classes())
    outside = sorted(name for name, cls in exported.items() if not issubclass(cls, PmsError))
    assert [name for name in outside if name not in NOT_RAISED_TO_CALLERS] == []


def test_every_class_of_the_errors_module_is_a_pms_error_and_exported() -> None:
    classes = errors_module_classes()
    assert all(issubclass(cls, PmsError) for cls in classes.values())
    assert set(classes) == set(pms_connect.errors.__all__)
    assert set(classes) <= set(pms_connect.__all__), "every error is importable from pms_connect"


def drawn_tree(text: str) -> dict[str, str]:
    """child -> parent, from a tree drawn as in errors.py's docstring."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^(\s*)PmsError\b", line)
        if match and not stack:
            stack = ["PmsError"]
            continue
        match = re.match(r"^\s*((?:│   |    )*)(?:├── |└── )(\w+)", line)
        if match and stack:
            depth = len(match.group(1)) // 4 + 1
            del stack[depth:]
            parents[match.group(2)] = stack[-1]
            stack.append(match.group(2))
    return parents


@pytest.mark.parametrize(
    "where",
    ["docstring", "docs/guides/errors.md"],
)
def test_the_drawn_tree_is_the_real_one(where: str) -> None:
    text = pms_connect.errors.__doc__ if where == "docstring" else (ROOT / where).read_text(encoding="utf-8")
    assert text is not None
    parents = drawn_tree(text)
    classes = errors_module_classes()
    assert set(parents) == set(classes) - {"PmsError"}, "the tree names every error, and only those"
    for child, parent in parents.items():
        assert classes[parent] in classes[child].__bases__, f"{child} is drawn under {parent}"


def test_precondition_failed_is_described_without_a_provider() -> None:
    text = (pms_connect.errors.__doc__ or "") + (pms_connect.errors.PreconditionFailedError.__doc__ or "")
    assert "utility" not in text
    assert "Sikka" not in (pms_connect.errors.PreconditionFailedError.__doc__ or "")


def test_invalid_argument_error_is_also_a_value_error() -> None:
    assert issubclass(InvalidArgumentError, ValueError)


def test_a_model_the_caller_builds_raises_pydantic_s_error_a_value_error_too() -> None:
    with pytest.raises(ValidationError, match="duration") as caught:
        BookingRequest(
            patient_id="1", provider_id="DMD1", start=datetime(2026, 12, 1, 9, tzinfo=timezone.utc), duration=-1
        )
    assert isinstance(caught.value, ValueError)


# -- bad arguments -------------------------------------------------------------------------------------------


async def _fetch(index: int) -> Page[int]:
    return Page(items=[], index=index, page_size=1)  # pragma: no cover - never fetched


async def _token() -> Token:
    raise AssertionError("never called")  # pragma: no cover


async def _refresh(key: str) -> Token:
    raise AssertionError("never called")  # pragma: no cover


CREDENTIALS = SikkaCredentials(app_id="a", app_key="k", office_id="o", secret_key="s", practice_id="1")
NAN = math.nan
MINUTE = timedelta(minutes=1)

BAD_ARGUMENTS: list[tuple[str, Callable[[], object]]] = [
    # http
    ("RetryPolicy(max_attempts=0)", lambda: RetryPolicy(max_attempts=0)),
    ("RetryPolicy(max_attempts=2.5)", lambda: RetryPolicy(max_attempts=2.5)),  # type: ignore[arg-type]
    ("RetryPolicy(initial_backoff=-1)", lambda: RetryPolicy(initial_backoff=-1)),
    ("RetryPolicy(max_backoff=nan)", lambda: RetryPolicy(max_backoff=NAN)),
    ("RetryPolicy(max_backoff='20')", lambda: RetryPolicy(max_backoff="20")),  # type: ignore[arg-type]
    ("RateLimitHeaders(limit='')", lambda: RateLimitHeaders(limit="")),
    ("RateLimitHeaders(reset=' X-Reset')", lambda: RateLimitHeaders(reset=" X-Reset")),
    ("RateLimitHeaders(remaining=1)", lambda: RateLimitHeaders(remaining=1)),  # type: ignore[arg-type]
    # pagination
    ("AsyncPager(concurrency=0)", lambda: AsyncPager(_fetch, concurrency=0)),
    ("AsyncPager(concurrency=1.5)", lambda: AsyncPager(_fetch, concurrency=1.5)),  # type: ignore[arg-type]
    ("AsyncPager.deferred(concurrency=0)", lambda: AsyncPager.deferred(lambda: None, concurrency=0)),  # type: ignore[arg-type, return-value]
    ("Page(page_size=0)", lambda: Page(items=[], index=0, page_size=0, total_count=3)),
    ("Page(index=-1)", lambda: Page(items=[], index=-1, page_size=10)),
    ("Page(total_count=-1)", lambda: Page(items=[], index=0, page_size=10, total_count=-1)),
    # ratelimit
    ("RateLimit(requests=0)", lambda: RateLimit(requests=0)),
    ("RateLimit(requests=True)", lambda: RateLimit(requests=True)),
    ("RateLimit(per_seconds=0)", lambda: RateLimit(per_seconds=0)),
    ("RateLimit(per_seconds=inf)", lambda: RateLimit(per_seconds=math.inf)),
    ("RateLimit(margin_seconds=-1)", lambda: RateLimit(margin_seconds=-1)),
    ("RateLimit(background_share=0)", lambda: RateLimit(background_share=0)),
    ("RateLimit(background_share=nan)", lambda: RateLimit(background_share=NAN)),
    ("RateLimiter(120)", lambda: RateLimiter(120)),  # type: ignore[arg-type]
    # writeback
    ("PollSchedule(min_interval=0)", lambda: PollSchedule(min_interval=timedelta(0))),
    (
        "PollSchedule(max_interval<min_interval)",
        lambda: PollSchedule(min_interval=MINUTE, max_interval=MINUTE / 2),
    ),
    ("PollSchedule(growth=-1)", lambda: PollSchedule(growth=-1)),
    ("PollSchedule(max_single_checks=-1)", lambda: PollSchedule(max_single_checks=-1)),
    ("PollSchedule(error_backoff=0)", lambda: PollSchedule(error_backoff=timedelta(0))),
    ("PollSchedule(min_interval=5)", lambda: PollSchedule(min_interval=5)),  # type: ignore[arg-type]
    ("WritebackPoller(max_wait=0)", lambda: WritebackPoller(max_wait=timedelta(0))),
    ("WritebackPoller(lease_ttl=-1s)", lambda: WritebackPoller(lease_ttl=timedelta(seconds=-1))),
    ("WritebackPoller(max_wait=30)", lambda: WritebackPoller(max_wait=30)),  # type: ignore[arg-type]
    # tokens
    (
        "TokenManager(skew=-1s)",
        lambda: TokenManager(key="k", grant=_token, refresh=_refresh, skew=timedelta(seconds=-1)),
    ),
    # stores
    ("MemoryStore(lock_timeout=0)", lambda: MemoryStore(lock_timeout=0)),
    ("MemoryStore(lock_timeout=nan)", lambda: MemoryStore(lock_timeout=NAN)),
    ("SqliteStore(':memory:')", lambda: SqliteStore(":memory:")),
    ("SqliteStore(42)", lambda: SqliteStore(42)),  # type: ignore[arg-type]
    ("SqliteStore(busy_timeout=nan)", lambda: SqliteStore("x.db", busy_timeout=NAN)),
    ("RedisStore('http://')", lambda: RedisStore("http://localhost")),
    ("RedisStore(None)", lambda: RedisStore(None)),  # type: ignore[arg-type]
    ("RedisStore(prefix='')", lambda: RedisStore("redis://localhost", prefix="")),
    ("RedisStore(lock_lease=0)", lambda: RedisStore("redis://localhost", lock_lease=0)),
    ("store_from_url('ftp://')", lambda: store_from_url("ftp://host/db")),
    # validation
    ("check_seconds(-1)", lambda: check_seconds(-1, "timeout")),
    ("check_seconds(True)", lambda: check_seconds(True, "timeout")),
    ("check_count(1.0)", lambda: check_count(1.0, "attempts")),
    # sikka
    ("SikkaClient(timeout=0)", lambda: SikkaClient(CREDENTIALS, timeout=0)),
    ("SikkaClient(timeout=nan)", lambda: SikkaClient(CREDENTIALS, timeout=NAN)),
    ("SikkaClient(timeout='30')", lambda: SikkaClient(CREDENTIALS, timeout="30")),  # type: ignore[arg-type]
    ("SikkaClient(rate_limit=0)", lambda: SikkaClient(CREDENTIALS, rate_limit=0)),
    ("SikkaClient(rate_limit=1.5)", lambda: SikkaClient(CREDENTIALS, rate_limit=1.5)),  # type: ignore[arg-type]
    ("SikkaClient(rate_limit='fast')", lambda: SikkaClient(CREDENTIALS, rate_limit="fast")),  # type: ignore[arg-type]
    ("SikkaClient(base_url='api.sikkasoft.com')", lambda: SikkaClient(CREDENTIALS, base_url="api.sikkasoft.com")),
    ("SikkaClient(credentials=dict)", lambda: SikkaClient({"app_id": "a"})),  # type: ignore[arg-type]
    ("SikkaClient(retry=3)", lambda: SikkaClient(CREDENTIALS, retry=3)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "make"), BAD_ARGUMENTS, ids=[call for call, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_an_invalid_argument_error(call: str, make: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        make()
    assert isinstance(caught.value, ValueError)
    assert caught.value.__cause__ is None


async def test_http_client_with_transport_or_timeout_is_refused() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(InvalidArgumentError, match="http_client or transport"):
            SikkaClient(
                CREDENTIALS, http_client=client, transport=httpx.MockTransport(lambda r: httpx.Response(200))
            )
        with pytest.raises(InvalidArgumentError, match="timeout"):
            SikkaClient(CREDENTIALS, http_client=client, timeout=5.0)
        with pytest.raises(InvalidArgumentError, match="timeout"):
            SikkaClient(CREDENTIALS, http_client=client, timeout=httpx.Timeout(5.0))


@pytest.mark.parametrize("timeout", [-1, NAN, math.inf, 1e300, "5", True])
async def test_a_wait_s_bad_timeout_is_an_invalid_argument_error(timeout: Any) -> None:
    poller = WritebackPoller()
    handle = Writeback(id="w1", kind=WritebackKind.POST_PAYMENT, submitted_at=datetime.now(timezone.utc))
    with pytest.raises(InvalidArgumentError, match="timeout"):
        await poller.wait(handle, timeout=timeout)
    await poller.aclose()


@pytest.mark.parametrize(
    "make",
    [
        lambda: CredentialVault({}, active_key_id="k1"),
        lambda: CredentialVault({"k1": b"short"}, active_key_id="k1"),
        lambda: CredentialVault.from_string("k1:not-base64!"),
    ],
)
def test_bad_vault_keys_are_vault_errors(make: Callable[[], object]) -> None:
    with pytest.raises(VaultError):
        make()


def test_store_errors_and_vault_errors_are_pms_errors() -> None:
    assert issubclass(StoreError, PmsError)
    assert issubclass(VaultError, PmsError)
