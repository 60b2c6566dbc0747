"""The project's own test run runs the conformance kit against the Open Dental sandbox."""

from __future__ import annotations

from pms_connect.testing.conformance.test_builtin_sandboxes import TestOpenDentalSandbox

__all__ = ["TestOpenDentalSandbox"]
