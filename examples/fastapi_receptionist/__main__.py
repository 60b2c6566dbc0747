"""Run the adapter: ``python -m examples.fastapi_receptionist [--sandbox [--provider P]] [--host H] [--port P]
[--workers N]``, or print the assistant's tool definitions:
``python -m examples.fastapi_receptionist tools [--server-url URL]``.

Without ``--sandbox`` the settings come from ``RECEPTIONIST_*`` variables (see the README); ``--workers N``
starts N worker processes (``uvicorn examples.fastapi_receptionist.app:from_env --factory --workers N``),
which share the store ``RECEPTIONIST_STORE_URL`` names. With ``--sandbox``, one process runs offline
against an embedded sandbox (Sikka's, or Open Dental's with ``--provider opendental``): a throw-away
database and store, made-up secrets, and a demo practice ("demo") already connected, its line
``+15550100000`` known to Vapi as ``demo-number``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

import httpx
import uvicorn

from pms_connect import CredentialVault, PmsProvider
from pms_connect.sikka import SikkaCredentials, SikkaProvider
from pms_connect.stores import Store

from .app import create_app
from .connections import PROVIDERS, OpenDentalConnection, PmsFactories, ProviderName
from .definitions import DEFAULT_TIMEOUT_SECONDS, tool_definitions
from .settings import ENV_PREFIX, Settings, SettingsError

DEMO_ACCOUNT = "demo"
DEMO_NUMBER = "+15550100000"
DEMO_FRONT_DESK = "+15550100001"
FACTORY = "examples.fastapi_receptionist.app:from_env"


def tools_command(argv: list[str]) -> None:
    """``tools``: the four Vapi function tools as JSON, generated from the code (see ``definitions.py``)."""
    base = os.environ.get(ENV_PREFIX + "PUBLIC_BASE_URL") or "http://127.0.0.1:8000"
    parser = argparse.ArgumentParser(
        prog="python -m examples.fastapi_receptionist tools",
        description="Print the assistant's function tools (JSON) for Vapi's dashboard or API.",
    )
    parser.add_argument(
        "--server-url",
        default=base.rstrip("/") + "/vapi/webhook",
        help="where Vapi sends the tool calls (default: $RECEPTIONIST_PUBLIC_BASE_URL/vapi/webhook)",
    )
    parser.add_argument("--timeout-seconds", type=int, default=DEFAULT_TIMEOUT_SECONDS)
    parser.add_argument("--credential-id", default=None, help="the id of Vapi's server credential for this URL")
    args = parser.parse_args(argv)
    try:
        tools = tool_definitions(
            args.server_url, timeout_seconds=args.timeout_seconds, credential_id=args.credential_id
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(tools, indent=2))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tools"]:
        tools_command(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m examples.fastapi_receptionist", description=__doc__)
    parser.add_argument("--sandbox", action="store_true", help="run offline against an embedded sandbox")
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default="sikka",
        help="the demo practice's PMS with --sandbox: the Sikka sandbox (default) or the Open Dental one",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (they share RECEPTIONIST_STORE_URL; not --sandbox)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.provider != "sikka" and not args.sandbox:
        parser.error("--provider chooses the demo practice's sandbox: use it with --sandbox")
    if not args.sandbox:
        try:
            settings = Settings.from_env()  # checked once here, before any worker starts
        except SettingsError as exc:
            raise SystemExit(str(exc)) from None
        if args.workers == 1:
            uvicorn.run(create_app(settings), host=args.host, port=args.port)
        else:  # each worker process imports the factory and builds its own app, database engine and store
            uvicorn.run(FACTORY, factory=True, workers=args.workers, host=args.host, port=args.port)
        return
    if args.workers != 1:
        parser.error(
            "--sandbox runs one process: its sandbox lives in it (serve `pms-connect sandbox` for a fleet)"
        )
    factories, setup = _demo_sandbox(args.provider)
    directory = Path(tempfile.mkdtemp(prefix="receptionist-demo-"))
    database = directory / "receptionist.db"
    settings = Settings.from_env(
        database_url=f"sqlite:///{database}",
        store_url=f"sqlite:///{directory / 'receptionist-pms.db'}",
        public_base_url=f"http://{args.host}:{args.port}",
        admin_token=secrets.token_urlsafe(24),
        vault_keys=f"demo:{CredentialVault.generate_key()}",
        vapi_secret=secrets.token_urlsafe(24),
    )
    asyncio.run(_connect_demo_practice(settings, factories, setup))
    assert settings.vapi_secret is not None
    print(f"demo practice connected ({args.provider} sandbox); the database is {database}", flush=True)
    # Made up for this run only, and needed to call the demo: printing them is the point.
    print(f"admin token:   {settings.admin_token.get_secret_value()}", flush=True)
    print(f"X-Vapi-Secret: {settings.vapi_secret.get_secret_value()}", flush=True)
    uvicorn.run(create_app(settings, pms_factories=factories), host=args.host, port=args.port)


def _demo_sandbox(provider: ProviderName) -> tuple[PmsFactories, dict[str, str]]:
    """An embedded sandbox of ``provider``: the factory pointing at it, and the demo practice's setup body
    (its demo credentials, which open nothing real)."""
    if provider == "opendental":
        from pms_connect.testing import OpenDentalSandbox

        dental = OpenDentalSandbox(seed=7, mode="service")  # as an office's API Service: not throttled

        def opendental(connection: OpenDentalConnection, zone: str, store: Store) -> PmsProvider:
            return dental.provider(credentials=connection.credentials, timezone=zone, store=store)

        credentials = dental.credentials
        return {"opendental": opendental}, {
            "provider": "opendental",
            "developerKey": credentials.developer_key.get_secret_value(),
            "customerKey": credentials.customer_key.get_secret_value(),
            "timezone": dental.timezone,
        }
    from pms_connect.testing import SikkaSandbox

    sandbox = SikkaSandbox(seed=7)

    def sikka(credentials: SikkaCredentials, zone: str, store: Store) -> PmsProvider:
        return SikkaProvider(
            credentials, timezone=zone, base_url=sandbox.base_url, transport=sandbox.transport, store=store
        )

    demo = sandbox.credentials
    return {"sikka": sikka}, {
        "appId": demo.app_id,
        "appKey": demo.app_key.get_secret_value(),
        "officeId": demo.office_id,
        "secretKey": demo.secret_key.get_secret_value(),
        "practiceId": demo.practice_id,
        "timezone": sandbox.timezone,
    }


async def _connect_demo_practice(settings: Settings, factories: PmsFactories, credentials: dict[str, str]) -> None:
    """Set up the demo practice through the adapter's own API, as an operator would."""
    app = create_app(settings, pms_factories=factories)
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    setup = {"accountId": DEMO_ACCOUNT, **credentials}
    number = {
        "accountId": DEMO_ACCOUNT,
        "twilioNumber": DEMO_NUMBER,
        "vapiPhoneNumberId": "demo-number",
        "sipUri": "sip:demo-receptionist@sip.vapi.ai",
        "staffForwardNumber": DEMO_FRONT_DESK,
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client,
    ):
        (await client.post("/pms/setup", json=setup, headers=headers)).raise_for_status()
        (await client.put("/pms/phone-numbers", json=number, headers=headers)).raise_for_status()


if __name__ == "__main__":
    main()
