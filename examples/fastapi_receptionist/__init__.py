"""An example AI-receptionist backend on pms_connect: Vapi tools, Twilio call routing, staff SMS.

Thin on purpose: open slots, patient matching, booking safety and writeback tracking live in the SDK;
this package only turns Vapi's and Twilio's webhooks into SDK calls and answers a caller can hear.
"""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
