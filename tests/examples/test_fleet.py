"""What lets the adapter run as several worker processes: the store setting, one store per process shared by
every provider and closed after them, the ``from_env`` factory and ``--workers``, and a database start-up
that two workers can race. (``test_workers.py`` runs two real workers.)"""

from __future__ import annotations

import importlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import examples.fastapi_receptionist.app as app_module
import pytest
from examples.fastapi_receptionist import Settings
from examples.fastapi_receptionist.db import Base, Database
from examples.fastapi_receptionist.settings import SettingsError
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from pms_connect import CredentialVault
from pms_connect.errors import InvalidArgumentError
from pms_connect.stores import MemoryStore, RedisStore, SqliteStore, Store

PASSWORD = "hunter2-do-not-echo"
TABLES = {"practices", "phone_numbers", "call_log"}


def minimal_env(**extra: str) -> dict[str, str]:
    return {
        "RECEPTIONIST_ADMIN_TOKEN": "admin-token-0123456789abcdef",
        "RECEPTIONIST_VAULT_KEYS": f"k1:{CredentialVault.generate_key()}",
        "RECEPTIONIST_VAPI_SECRET": "vapi-secret",
        **extra,
    }


# -- the setting --------------------------------------------------------------------------------------------


def test_the_store_defaults_to_a_sqlite_file_next_to_the_default_database() -> None:
    settings = Settings.from_env(minimal_env())
    assert settings.database_url == "sqlite:///receptionist.db"
    assert settings.store_url == "sqlite:///receptionist-pms.db"


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "sqlite:///pms.db",
        "sqlite:////var/lib/receptionist/pms.db",
        f"redis://:{PASSWORD}@redis.internal:6379/0?prefix=receptionist",
        "rediss://redis.internal:6380/1",
    ],
)
def test_the_store_url_comes_from_the_environment(url: str) -> None:
    assert Settings.from_env(minimal_env(RECEPTIONIST_STORE_URL=url)).store_url == url


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://admin:{PASSWORD}@db.internal/pms",
        f"{PASSWORD}@redis.internal:6379",
        f"redis//:{PASSWORD}@redis.internal",
        f"admin:{PASSWORD}@redis.internal://0",  # not a scheme: nothing before :// is quoted
        "sqlite://",
        "sqlite:///",
        "memory",
    ],
)
def test_a_store_url_of_no_known_scheme_is_a_settings_error_that_never_quotes_it(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(minimal_env(RECEPTIONIST_STORE_URL=url))
    message = str(raised.value)
    assert "RECEPTIONIST_STORE_URL" in message
    assert PASSWORD not in message
    assert "db.internal" not in message
    assert "redis.internal" not in message


def test_a_store_the_sdk_refuses_is_a_settings_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env(minimal_env(RECEPTIONIST_STORE_URL=f"redis://:{PASSWORD}@redis.internal/0"))
    vault = CredentialVault.from_string(settings.vault_keys.get_secret_value())

    def refuse(url: str, **_: Any) -> Store:
        raise InvalidArgumentError("unknown store URL scheme 'redis': use memory://, sqlite:/// or redis://")

    def missing_extra(url: str, **_: Any) -> Store:
        raise ImportError("RedisStore needs the redis extra: pip install 'pms-connect[redis]'")

    for fail in (refuse, missing_extra):
        monkeypatch.setattr(app_module, "store_from_url", fail)
        with pytest.raises(SettingsError, match="RECEPTIONIST_STORE_URL") as raised:
            app_module.open_store(settings, vault)
        assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "kind"),
    [("memory://", MemoryStore), ("sqlite:///{tmp}/pms.db", SqliteStore), ("redis://127.0.0.1:1/0", RedisStore)],
)
async def test_open_store_builds_the_store_the_url_names_sealed_with_the_vault(
    tmp_path: Path, url: str, kind: type
) -> None:
    settings = Settings.from_env(minimal_env(RECEPTIONIST_STORE_URL=url.format(tmp=tmp_path)))
    vault = CredentialVault.from_string(settings.vault_keys.get_secret_value())
    store = app_module.open_store(settings, vault)  # nothing is connected yet
    try:
        assert isinstance(store, kind)
        if isinstance(store, SqliteStore):
            assert "sealed=True" in repr(store)
    finally:
        await store.aclose()


# -- one store per process ----------------------------------------------------------------------------------


class StoreSpy:
    """Wraps ``store_from_url``: the stores the app opened, with the vault given, and what was closed when."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[tuple[Store, Any]] = []
        self.events: list[str] = []
        real = app_module.store_from_url

        def spy(url: str, *, vault: Any = None) -> Store:
            store = real(url, vault=vault)
            close = store.aclose

            async def aclose() -> None:
                self.events.append("store closed")
                await close()

            store.aclose = aclose  # type: ignore[method-assign]
            self.opened.append((store, vault))
            return store

        monkeypatch.setattr(app_module, "store_from_url", spy)


async def test_every_provider_shares_the_one_store_which_is_closed_after_them(
    open_harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = StoreSpy(monkeypatch)
    async with open_harness() as h:
        [(store, vault)] = spy.opened
        assert vault is h.services.vault  # tokens and request bodies are sealed at rest
        assert isinstance(store, SqliteStore)
        assert h.services.connections.store is store
        await h.connect()
        response = await h.client.post("/pms/setup", json=h.setup_body(accountId="acct-2"), headers=h.admin)
        assert response.status_code == 200, response.text
        providers = []
        for account in ("acct-1", "acct-2"):
            practice = await h.services.db.get_practice(account)
            assert practice is not None
            providers.append(await h.services.connections.get(practice))
        assert providers[0] is not providers[1]
        assert all(p.store is store for p in providers)
        for n, provider in enumerate(providers):
            close = provider.aclose

            async def aclose(n: int = n, close: Any = close) -> None:
                spy.events.append(f"provider {n} closed")
                await close()

            monkeypatch.setattr(provider, "aclose", aclose)
        assert spy.events == []
    assert sorted(spy.events[:2]) == ["provider 0 closed", "provider 1 closed"]
    assert spy.events[2:] == ["store closed"]
    with pytest.raises(RuntimeError, match="not open"):
        h.services.connections.build(h.sandbox.credentials, h.sandbox.timezone)


async def test_each_start_of_an_app_opens_its_own_store(
    open_harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = StoreSpy(monkeypatch)
    async with open_harness(), open_harness():
        pass
    assert len(spy.opened) == 2
    assert spy.opened[0][0] is not spy.opened[1][0]
    assert spy.events == ["store closed", "store closed"]


async def test_a_store_that_cannot_open_stops_the_start_up(
    open_harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(url: str, **_: Any) -> Store:
        raise InvalidArgumentError("a SQLite store URL names a file: sqlite:///pms.db or sqlite:////abs/pms.db")

    monkeypatch.setattr(app_module, "store_from_url", refuse)
    with pytest.raises(SettingsError, match="RECEPTIONIST_STORE_URL: a SQLite store URL names a file"):
        async with open_harness():
            pass


# -- several workers ----------------------------------------------------------------------------------------


def test_from_env_builds_the_app_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = minimal_env(
        RECEPTIONIST_DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}",
        RECEPTIONIST_STORE_URL=f"sqlite:///{tmp_path / 'r-pms.db'}",
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = app_module.from_env()
    assert app.state.services.settings.store_url == env["RECEPTIONIST_STORE_URL"]
    app.state.services.db.dispose()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RECEPTIONIST_STORE_URL", f"postgresql://u:{PASSWORD}@db/x"), ("RECEPTIONIST_VAULT_KEYS", f"k1:{PASSWORD}")],
)
def test_from_env_with_bad_settings_stops_the_server_rather_than_restart_workers(
    variable: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = minimal_env(RECEPTIONIST_DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", **{variable: value})
    for name, setting in env.items():
        monkeypatch.setenv(name, setting)
    with pytest.raises(SystemExit) as raised:
        app_module.from_env()
    assert raised.value.code == 3  # uvicorn's STARTUP_FAILURE: its supervisor stops instead of respawning
    assert caplog.records
    assert PASSWORD not in caplog.text


def test_the_workers_flag_serves_the_factory_with_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main = importlib.import_module("examples.fastapi_receptionist.__main__")
    for name, value in minimal_env().items():
        monkeypatch.setenv(name, value)
    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(main.uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    main.main(["--workers", "3", "--port", "8123"])
    assert runs == [
        (
            "examples.fastapi_receptionist.app:from_env",
            {"factory": True, "workers": 3, "host": "127.0.0.1", "port": 8123},
        )
    ]
    assert importlib.import_module("examples.fastapi_receptionist.app").from_env is app_module.from_env


@pytest.mark.parametrize("argv", [["--sandbox", "--workers", "2"], ["--workers", "0"]])
def test_the_workers_flag_is_refused_where_it_cannot_work(argv: list[str]) -> None:
    main = importlib.import_module("examples.fastapi_receptionist.__main__")
    with pytest.raises(SystemExit) as raised:
        main.main(argv)
    assert raised.value.code == 2


# -- database start-up --------------------------------------------------------------------------------------


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_create_all_on_an_existing_schema_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    first, second = Database(url), Database(url)
    first.create_all()
    first.create_all()
    second.create_all()
    assert tables(second) == TABLES
    first.dispose()
    second.dispose()


def test_create_all_that_loses_the_race_checks_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race, made certain: another worker created the tables between this one's check and its CREATE."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    other, late = Database(url), Database(url)
    other.create_all()
    real = Base.metadata.create_all
    calls: list[bool] = []

    def racing(bind: Any, checkfirst: bool = True, **kw: Any) -> None:
        calls.append(checkfirst)
        real(bind, checkfirst=len(calls) > 1, **kw)  # the first attempt saw no tables

    monkeypatch.setattr(Base.metadata, "create_all", racing)
    with pytest.raises(OperationalError, match="already exists"):
        real(late.engine, checkfirst=False)  # what the unguarded start-up raised
    late.create_all()
    assert len(calls) == 2
    assert tables(late) == TABLES
    other.dispose()
    late.dispose()


def test_create_all_raises_what_is_not_a_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    calls: list[int] = []

    def broken(bind: Any, **kw: Any) -> None:
        calls.append(1)
        raise OperationalError("CREATE TABLE", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(Base.metadata, "create_all", broken)
    with pytest.raises(OperationalError, match="disk I/O error"):
        db.create_all(attempts=3)
    assert len(calls) == 3
    db.dispose()


@pytest.mark.parametrize("round_", range(5))
def test_workers_starting_at_once_on_an_empty_database_all_start(tmp_path: Path, round_: int) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    databases = [Database(url) for _ in range(8)]
    barrier = threading.Barrier(len(databases))
    failures: list[BaseException] = []

    def start(db: Database) -> None:
        barrier.wait(timeout=10)
        try:
            db.create_all()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert all(tables(db) == TABLES for db in databases)
    for db in databases:
        db.dispose()
