"""Fixtures every test directory may use."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from .redis_server import redis_server

assert importlib.util.find_spec("redis") is not None, "the redis extra is part of dev"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of this test session (one per xdist worker); tests namespace their keys."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url
