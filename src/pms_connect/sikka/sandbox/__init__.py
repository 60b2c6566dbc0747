"""``SikkaSandbox``: a faithful fake of Sikka ONE v4, in process (an httpx transport) or served over HTTP.

It models the server independently of the provider (it imports none of ``pms_connect.sikka``'s private
modules), so that the provider is tested against Sikka's behaviour, not against its own reading of it. It needs
the ``sandbox`` extra (Starlette, uvicorn); ``import pms_connect.sikka`` does not import it. Tests and demos
usually take it from [pms_connect.testing][], which imports it on first use.

The modules behind it: ``server`` (the ``SikkaSandbox`` class and its transport), ``app`` (the Starlette app:
authentication, rate limit, injected faults, headers), ``reads`` and ``writes`` (the endpoints), ``writebacks``
(the queue that completes writes later), ``auth`` (keys and the per-minute limit), ``state`` (what a request
handler sees, and the fault switches), ``control`` (the test-control endpoint), ``data``, ``catalog`` and
``seed`` (the seeded practice), ``items``, ``query`` and ``wire`` (Sikka's envelopes, filters and errors).
"""

from pms_connect.sikka.sandbox.server import (
    RequestRecord,
    SandboxFaults,
    SandboxTransport,
    SikkaSandbox,
    WritebackRecord,
)

__all__ = ["RequestRecord", "SandboxFaults", "SandboxTransport", "SikkaSandbox", "WritebackRecord"]
