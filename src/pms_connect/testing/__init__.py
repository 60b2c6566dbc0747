"""Test helpers: a virtual clock and ``SikkaSandbox``, a faithful in-process fake of Sikka ONE v4.

``SikkaSandbox`` needs the ``sandbox`` extra (Starlette, uvicorn); it is imported on first use so that
``FakeClock`` works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pms_connect.testing.clock import FakeClock

if TYPE_CHECKING:
    from pms_connect.testing.sandbox import SandboxFaults, SikkaSandbox

__all__ = ["FakeClock", "SandboxFaults", "SikkaSandbox"]


def __getattr__(name: str) -> Any:
    if name in ("SikkaSandbox", "SandboxFaults"):
        try:
            from pms_connect.testing import sandbox
        except ModuleNotFoundError as exc:
            raise ImportError(
                f"{name} needs the sandbox extra ({exc.name} is missing): pip install 'pms-connect[sandbox]'",
                name=exc.name,
            ) from exc
        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
