"""One store from one setting: what a deployment's configuration names (``STORE_URL=redis://...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from pms_connect.errors import InvalidArgumentError
from pms_connect.stores._memory import MemoryStore
from pms_connect.stores._protocol import Store

if TYPE_CHECKING:
    from pms_connect.vault import CredentialVault

__all__ = ["store_from_url"]


def store_from_url(url: str, *, vault: CredentialVault | None = None) -> Store:
    """The store ``url`` names: ``memory://`` (one process), ``sqlite:///path/to/pms.db`` (one host; four
    slashes for an absolute path, as in SQLAlchemy), or ``redis://host:6379/0`` / ``rediss://...`` (many
    hosts; ``?prefix=name`` namespaces the keys). ``vault`` seals what the store keeps (memory:// keeps
    nothing at rest and ignores it).
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.lower().startswith("sqlite:///") else ""
        if not path:
            raise InvalidArgumentError(
                "a SQLite store URL names a file: sqlite:///pms.db or sqlite:////abs/pms.db"
            )
        from pms_connect.stores._sqlite import SqliteStore  # imported when named: sqlite3 is optional work

        return SqliteStore(path, vault=vault)
    if scheme in ("redis", "rediss", "unix"):
        query = parse_qs(urlsplit(url).query)
        prefixes = query.pop("prefix", None)
        base = url.split("?", 1)[0]
        rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
        redis_url = f"{base}?{rest}" if rest else base
        from pms_connect.stores._redis import RedisStore

        return RedisStore(redis_url, prefix=prefixes[-1] if prefixes else "pms_connect", vault=vault)
    # Only the scheme: a URL can carry a password.
    raise InvalidArgumentError(f"unknown store URL scheme {scheme!r}: use memory://, sqlite:/// or redis://")
