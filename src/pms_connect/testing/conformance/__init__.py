"""The conformance kit: the behaviour every provider (and every sandbox) must show, through the public API only.

A provider's tests subclass [ProviderConformance][pms_connect.testing.conformance.ProviderConformance] and give
one fixture, ``conformance_target``, returning a
[ConformanceTarget][pms_connect.testing.conformance.ConformanceTarget]; each check is also a plain coroutine
function in [pms_connect.testing.conformance.checks][]. The kit runs against every built-in sandbox with:

    python -m pytest --pyargs pms_connect.testing.conformance

What the checks prove, and how to run them against a new provider, is in the guide "Adding a provider".
"""

from __future__ import annotations

from pms_connect.testing.conformance._suite import ProviderConformance
from pms_connect.testing.conformance._target import ConformanceTarget

__all__ = ["ConformanceTarget", "ProviderConformance"]
