"""The Sikka ONE provider."""

from pms_connect.sikka._client import DEFAULT_BASE_URL
from pms_connect.sikka.credentials import SikkaCredentials
from pms_connect.sikka.options import SikkaWriteOptions
from pms_connect.sikka.provider import SikkaProvider

__all__ = ["DEFAULT_BASE_URL", "SikkaCredentials", "SikkaProvider", "SikkaWriteOptions"]
