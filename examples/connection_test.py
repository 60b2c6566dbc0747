"""A scripted connection test against your own Sikka credentials.

Set the credentials in the environment (never on the command line of a shared machine):

    export PMS_CONNECT_SIKKA_APP_ID=...  PMS_CONNECT_SIKKA_APP_KEY=...
    export PMS_CONNECT_SIKKA_OFFICE_ID=...  PMS_CONNECT_SIKKA_SECRET_KEY=...
    export PMS_CONNECT_SIKKA_PRACTICE_ID=1  PMS_CONNECT_SIKKA_TIMEZONE=America/Chicago
    python examples/connection_test.py

or try it against the embedded sandbox with ``python examples/connection_test.py --sandbox``. It prints the
check, the practice's features and a count of providers, and exits non-zero when the check fails.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pms_connect import PmsProvider
from pms_connect.sikka import SikkaCredentials, SikkaProvider


def provider_from_environment() -> PmsProvider:
    env = os.environ
    missing = [
        name
        for name in ("APP_ID", "APP_KEY", "OFFICE_ID", "SECRET_KEY")
        if not env.get(f"PMS_CONNECT_SIKKA_{name}")
    ]
    if missing:
        raise SystemExit("set " + ", ".join(f"PMS_CONNECT_SIKKA_{name}" for name in missing))
    credentials = SikkaCredentials(
        app_id=env["PMS_CONNECT_SIKKA_APP_ID"],
        app_key=env["PMS_CONNECT_SIKKA_APP_KEY"],
        office_id=env["PMS_CONNECT_SIKKA_OFFICE_ID"],
        secret_key=env["PMS_CONNECT_SIKKA_SECRET_KEY"],
        practice_id=env.get("PMS_CONNECT_SIKKA_PRACTICE_ID", "1"),
    )
    return SikkaProvider(credentials, timezone=env.get("PMS_CONNECT_SIKKA_TIMEZONE", "America/Chicago"))


async def run(pms: PmsProvider) -> int:
    async with pms:
        check = await pms.test_connection()
        print(f"connection: {'ok' if check.ok else 'FAILED'} in {check.latency_ms} ms")
        if not check.ok:
            print(f"reason: {check.error}")
            return 1
        print(f"practice: {check.practice_name} ({check.pms_name})")
        features = await pms.get_features()
        print("features:", ", ".join(sorted(c.value for c in features.capabilities)) or "none")
        providers = await pms.providers.list().all()
        print(f"providers: {len(providers)}")
    return 0


def main() -> int:
    if "--sandbox" in sys.argv[1:]:
        from pms_connect.testing import SikkaSandbox

        pms: PmsProvider = SikkaSandbox(seed=7).provider()
    else:
        pms = provider_from_environment()
    return asyncio.run(run(pms))


if __name__ == "__main__":
    sys.exit(main())
