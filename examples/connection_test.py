"""A scripted connection test against your own Sikka credentials.

Set the credentials in the environment (never on the command line of a shared machine):

    export PMS_CONNECT_SIKKA_APP_ID=...  PMS_CONNECT_SIKKA_APP_KEY=...
    export PMS_CONNECT_SIKKA_OFFICE_ID=...  PMS_CONNECT_SIKKA_SECRET_KEY=...
    export PMS_CONNECT_SIKKA_PRACTICE_ID=1  PMS_CONNECT_SIKKA_TIMEZONE=America/Chicago
    python examples/connection_test.py

``PMS_CONNECT_SIKKA_BASE_URL`` points it elsewhere than Sikka, e.g. at a local ``pms-connect sandbox``
(paste the ``export`` lines it prints). Or try it against the embedded sandbox with
``python examples/connection_test.py --sandbox``. It prints the host it tried, the check, the practice's
features and a count of providers, and exits non-zero when the check fails. The variables are read as
``pms-connect check`` reads them, by ``pms_connect.cli.sikka_settings()``.
"""

from __future__ import annotations

import asyncio
import sys

from pms_connect import InvalidArgumentError, PmsProvider
from pms_connect.cli import sikka_settings


async def run(pms: PmsProvider, host: str) -> int:
    async with pms:
        check = await pms.test_connection()
        print(f"connection to {host}: {'ok' if check.ok else 'FAILED'} in {check.latency_ms} ms")
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

        pms, host = SikkaSandbox(seed=7).provider(), "the embedded sandbox"
    else:
        try:
            settings = sikka_settings()
        except InvalidArgumentError as exc:  # missing credentials, an unknown time zone, a malformed URL
            raise SystemExit(str(exc)) from None
        pms, host = settings.provider(), settings.host
    return asyncio.run(run(pms, host))


if __name__ == "__main__":
    sys.exit(main())
