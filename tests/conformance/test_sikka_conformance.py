"""The project's own test run runs the conformance kit against the Sikka sandbox (the class is collected here)."""

from __future__ import annotations

from pms_connect.testing.conformance.test_builtin_sandboxes import TestSikkaSandbox

__all__ = ["TestSikkaSandbox"]
