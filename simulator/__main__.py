"""Run the simulator as a process: ``python -m simulator --port 8100``.

Prints the base URLs, the client id and an initial token pair so that a
development Home Assistant can be pointed at it; ``--tokens-file`` also writes
them as JSON (with a ``token`` dict in Home Assistant's OAuth2 shape).

Partner accounts: ``--client-secret`` is the application's secret for the
partner token, ``--allowed-origin`` (repeatable) the origins a registered
domain must match, ``--key-origin`` (default: the environment variable
``TSW_SIM_KEY_ORIGIN``) where public keys are downloaded from instead of
``https://<domain>``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
import json
import os
from pathlib import Path
import time
from typing import Any

from aiohttp import web

from .app import create_app
from .model import FleetSimulator
from .partner import check_key_origin
from .scenarios import commute, demo
from .tokens import DEFAULT_AUTH_CODE, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from .vehicle import DEFAULT_VIN

SCENARIOS = ("none", "commute", "demo")
KEY_ORIGIN_ENV = "TSW_SIM_KEY_ORIGIN"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Tesla Fleet API simulator (HTTP, loopback by default).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8100, help="port to listen on")
    parser.add_argument("--scenario", choices=SCENARIOS, default="none")
    parser.add_argument(
        "--days", type=int, default=7, help="days of the scenario's timeline"
    )
    parser.add_argument("--region", default="EU", choices=["EU", "NA", "CN"])
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument(
        "--client-secret",
        default=DEFAULT_CLIENT_SECRET,
        help="the application's secret (client_credentials, the partner token)",
    )
    parser.add_argument(
        "--allowed-origin",
        dest="allowed_origins",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="an allowed origin of the application (repeatable; none: any domain)",
    )
    parser.add_argument(
        "--key-origin",
        default=os.environ.get(KEY_ORIGIN_ENV) or None,
        metavar="URL",
        help=(
            "download partner public keys from this http(s)://host[:port] "
            f"instead of https://<domain> (default: ${KEY_ORIGIN_ENV})"
        ),
    )
    parser.add_argument(
        "--sleep-after", type=float, default=900.0, help="idle seconds before sleep"
    )
    parser.add_argument(
        "--wake-delay", type=float, default=20.0, help="seconds a wake_up takes"
    )
    parser.add_argument(
        "--token-lifetime", type=float, default=28800.0, help="expires_in seconds"
    )
    parser.add_argument("--tz", default="Europe/Warsaw", help="the cars' time zone")
    parser.add_argument(
        "--start-asleep", action="store_true", help="vehicles start asleep"
    )
    parser.add_argument(
        "--tokens-file", type=Path, default=None, help="write URLs and tokens here"
    )
    parser.add_argument(
        "--token-store",
        type=Path,
        default=None,
        help="keep the account and its refresh tokens here, across restarts",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0-65535")
    if args.days < 1:
        parser.error("--days must be at least 1")
    if args.key_origin is not None:
        try:
            args.key_origin = check_key_origin(args.key_origin)
        except ValueError as err:
            parser.error(f"--key-origin: {err}")
    return args


def build(
    args: argparse.Namespace, clock: Callable[[], float] = time.time
) -> tuple[FleetSimulator, web.Application, dict[str, Any]]:
    """Create the simulator, its app and the connection details to print."""
    sim = FleetSimulator(
        clock,
        region=args.region,
        client_id=args.client_id,
        client_secret=args.client_secret,
        allowed_origins=args.allowed_origins,
        key_origin=args.key_origin,
        sleep_after=args.sleep_after,
        wake_delay=args.wake_delay,
        access_token_lifetime=args.token_lifetime,
        tz=args.tz,
        start_asleep=args.start_asleep,
    )
    if args.scenario == "commute":
        commute(sim, DEFAULT_VIN, clock(), days=args.days, tz=args.tz)
    elif args.scenario == "demo":
        demo(sim, DEFAULT_VIN)
    if args.token_store is not None:
        store, path = sim.tokens, args.token_store
        if path.exists():
            store.restore(json.loads(path.read_text(encoding="utf-8")))

        def save() -> None:
            path.write_text(json.dumps(store.snapshot()) + "\n", encoding="utf-8")

        store.on_change = save
    tokens = sim.issue_tokens()
    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{args.port}"
    expires_at = clock() + tokens["expires_in"]
    info: dict[str, Any] = {
        "api_base_url": base_url,
        "command_proxy_url": f"{base_url}/proxy",
        "token_url": f"{base_url}/oauth2/v3/token",
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "key_origin": args.key_origin,
        "auth_code": DEFAULT_AUTH_CODE,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_in": tokens["expires_in"],
        "expires_at": expires_at,
        "token": {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_in": tokens["expires_in"],
            "expires_at": expires_at,
            "token_type": tokens["token_type"],
        },
        "vins": list(sim.vehicles),
        "scenario": args.scenario,
    }
    return sim, create_app(sim), info


def main(argv: Sequence[str] | None = None) -> int:
    """Start the simulator and serve until interrupted."""
    args = parse_args(argv)
    sim, app, info = build(args)
    if args.tokens_file is not None:
        args.tokens_file.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"Tesla Fleet API simulator on {info['api_base_url']}")
    for key in ("api_base_url", "command_proxy_url", "token_url", "client_id"):
        print(f"  {key}: {info[key]}")
    print(f"  client_secret: {info['client_secret']}")
    if info["key_origin"] is not None:
        print(f"  partner keys downloaded from: {info['key_origin']}")
    print(f"  refresh_token: {info['refresh_token']}")
    print(f"  access_token: {info['access_token']}")
    print(f"  authorization code: {info['auth_code']}")
    for vehicle in sim.vehicles.values():
        print(f"  vehicle: {vehicle.vin} ({vehicle.display_name})")
    if args.tokens_file is not None:
        print(f"  tokens written to {args.tokens_file}")
    web.run_app(app, host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
