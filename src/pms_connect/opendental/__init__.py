"""The Open Dental provider (Open Dental's API: remote, API Service and Local API modes)."""

from pms_connect.opendental.credentials import OpenDentalCredentials

__all__ = ["OpenDentalCredentials"]
