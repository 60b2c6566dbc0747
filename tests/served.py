"""A sandbox served by uvicorn in a thread of the test process, for tests that need a real HTTP connection.

The loopback socket listens before the thread starts, so connections wait in its backlog and there is
nothing to poll for; the test reads the sandbox's world and request log directly."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from pms_connect.testing import SikkaSandbox


@dataclass
class Served:
    sandbox: SikkaSandbox
    base_url: str
    """Sikka's API root on loopback, ``http://127.0.0.1:{port}/v4``."""

    @property
    def root(self) -> str:
        """The server's root, where the sandbox's control endpoint lives (``/_sandbox``)."""
        return self.base_url.removesuffix("/v4")


def serve(sandbox: SikkaSandbox, *, backlog: int = 128) -> Iterator[Served]:
    """Serve ``sandbox`` until the generator is closed (use it as a fixture's body: ``yield from``)."""
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield Served(sandbox, f"http://127.0.0.1:{port}/v4")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
    assert not thread.is_alive(), "the served sandbox did not stop"
