"""The Open Dental provider (Open Dental's API: remote, API Service and Local API modes, and the waterfall)."""

from pms_connect.opendental._client import WatermarkPager
from pms_connect.opendental.credentials import OpenDentalCredentials
from pms_connect.opendental.options import (
    BASE_URLS,
    LOCAL_URL,
    MODES,
    PERMISSIONS,
    REMOTE_URL,
    SERVICE_URL,
    OpenDentalMode,
)
from pms_connect.opendental.provider import OpenDentalProvider

__all__ = [
    "BASE_URLS",
    "LOCAL_URL",
    "MODES",
    "PERMISSIONS",
    "REMOTE_URL",
    "SERVICE_URL",
    "OpenDentalCredentials",
    "OpenDentalMode",
    "OpenDentalProvider",
    "WatermarkPager",
]
