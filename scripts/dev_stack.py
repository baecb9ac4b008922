"""The development stack: the Fleet API simulator and a real Home Assistant, ready.

``scripts/develop`` runs this in the foreground (``config/``, ports 8123 and 8100);
``tests/e2e`` starts the same stack in a temporary folder on free ports.

Everything goes through Home Assistant's own HTTP and WebSocket APIs, as the
frontend does it: onboarding (user, core config with the simulator's home as the
home location, analytics, integration), the config flow, a reauthentication when
the stored login no longer works, the demo price sensor as the tariff, and
*Smart charging* on. The simulator keeps its accounts in
``simulator_token_store.json`` beside Home Assistant's files, so a restart keeps
the login. Then the simulated car, asleep 2.5 km away, is sent home.

Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from simulator import DEFAULT_VIN, HOME_WARSAW

REPO = Path(__file__).resolve().parent.parent
DOMAIN = "tesla_scout_worker"
USER, PASSWORD = "dev", "dev-password"
HOME = {"latitude": HOME_WARSAW[0], "longitude": HOME_WARSAW[1], "radius": 100}
"""The simulator's home, the integration's geofence."""
VIN = DEFAULT_VIN
KEY_DOMAIN = "ha.example.com"
"""The developer application's domain; the simulator fetches its key from here."""
CAR = "sim_model_3"
"""The simulated car's entity id prefix (its name, "Sim Model 3")."""
CORE_CONFIG: dict[str, Any] = {
    "location_name": "Tesla Scout & Worker dev",
    "latitude": HOME["latitude"],
    "longitude": HOME["longitude"],
    "elevation": 100,
    "unit_system": "metric",
    "time_zone": "Europe/Warsaw",
    "country": "PL",
    "currency": "PLN",
    "language": "en",
}
DEMO_PRICES = "sensor.demo_electricity_price"
ONBOARDING = ("user", "core_config", "analytics", "integration")
SHIPPED = ("configuration.yaml", "dashboards")
"""What a config folder needs from the repository's ``config/``."""


class StackError(Exception):
    """The stack did not come up as it should."""


@dataclass
class Stack:
    """The simulator and Home Assistant, as two process groups of their own."""

    config: Path
    ha_port: int = 8123
    sim_port: int = 8100
    echo: bool = True
    """Let Home Assistant write to this terminal (else to ``hass.out``)."""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    token: str = ""

    @property
    def ha_url(self) -> str:
        """Home Assistant's base URL."""
        return f"http://127.0.0.1:{self.ha_port}"

    @property
    def sim_url(self) -> str:
        """The simulator's base URL."""
        return f"http://127.0.0.1:{self.sim_port}"

    # --- processes -------------------------------------------------------------

    def start(self) -> None:
        """Start the simulator, then Home Assistant (on the config folder)."""
        self.config.mkdir(parents=True, exist_ok=True)
        shipped = REPO / "config"
        if self.config.resolve() != shipped.resolve():
            for name in SHIPPED:
                source, target = shipped / name, self.config / name
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    shutil.copy2(source, target)
        python = sys.executable
        (self.config / "simulator_tokens.json").unlink(missing_ok=True)
        self._spawn(
            [
                python,
                "-m",
                "simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.sim_port),
                "--scenario",
                "demo",
                "--tokens-file",
                str(self.config / "simulator_tokens.json"),
                "--token-store",
                str(self.config / "simulator_token_store.json"),
                # Tesla fetches the public key from the application's domain;
                # here that domain is this Home Assistant.
                "--key-origin",
                f"http://127.0.0.1:{self.ha_port}",
            ],
            self.config / "simulator.log",
        )
        # Home Assistant imports custom_components from the config folder first,
        # then from PYTHONPATH: the repository root makes it load this checkout.
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
            ),
            "TSW_HA_PORT": str(self.ha_port),
        }
        # --skip-pip: Home Assistant must not install or upgrade anything.
        hass = Path(python).with_name("hass")
        self._spawn(
            [str(hass), "--config", str(self.config), "--skip-pip"],
            None if self.echo else self.config / "hass.out",
            env,
        )

    def _spawn(
        self, argv: list[str], log: Path | None, env: dict[str, str] | None = None
    ) -> None:
        output = None if log is None else log.open("wb")
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter
                argv,
                cwd=REPO,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()
        self.processes.append(process)

    def stop(self, timeout: float = 60.0) -> list[int]:
        """Stop Home Assistant, then the simulator; return their exit codes.

        Each gets SIGTERM (Home Assistant saves its state and stops), then,
        after ``timeout``, its whole process group is killed.
        """
        codes: list[int] = []
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
            try:
                codes.append(process.wait(timeout))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                codes.append(process.wait())
            # Whatever it started goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()
        return codes

    def check_running(self) -> None:
        """Fail when a process of the stack has ended."""
        for process in self.processes:
            if process.poll() is not None:
                name = (
                    "Home Assistant" if "hass" in str(process.args) else "the simulator"
                )
                code = process.returncode
                msg = f"{name} ended with code {code} (its log is in {self.config})"
                raise StackError(msg)

    # --- Home Assistant's APIs ---------------------------------------------------

    async def call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        data: Any = None,
        *,
        form: bool = False,
        auth: bool = True,
    ) -> Any:
        """One request to Home Assistant (or, for ``/sim/``, the simulator)."""
        base = self.sim_url if path.startswith("/sim/") else self.ha_url
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        kwargs: dict[str, Any] = {"data": data} if form else {"json": data}
        async with session.request(
            method, base + path, headers=headers, **kwargs
        ) as response:
            body = await response.text()
            if response.status >= 400:
                msg = f"{method} {path}: {response.status} {body[:300]}"
                raise StackError(msg)
            return json.loads(body) if body else None

    @contextlib.asynccontextmanager
    async def websocket(
        self, session: aiohttp.ClientSession
    ) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        """Home Assistant's WebSocket API, authenticated with the stack's token."""
        async with session.ws_connect(f"{self.ha_url}/api/websocket") as socket:
            await socket.receive_json()  # auth_required
            await socket.send_json({"type": "auth", "access_token": self.token})
            if (await socket.receive_json())["type"] != "auth_ok":
                msg = "WebSocket authentication failed"
                raise StackError(msg)
            yield socket

    async def ws(
        self, session: aiohttp.ClientSession, *commands: dict[str, Any]
    ) -> list[Any]:
        """Send WebSocket commands, one after the other; return their results."""
        results: list[Any] = []
        async with self.websocket(session) as socket:
            for number, command in enumerate(commands, start=1):
                await socket.send_json({"id": number, **command})
                while (answer := await socket.receive_json())["id"] != number:
                    pass
                if not answer.get("success"):
                    msg = f"{command['type']}: {answer.get('error')}"
                    raise StackError(msg)
                results.append(answer.get("result"))
        return results

    async def wait_for(
        self,
        what: str,
        probe: Callable[[], Awaitable[Any]],
        seconds: float = 300.0,
    ) -> Any:
        """Poll ``probe`` until it returns something true; fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            self.check_running()
            with contextlib.suppress(aiohttp.ClientError, StackError, OSError):
                if result := await probe():
                    return result
            if time.monotonic() > deadline:
                msg = f"gave up waiting for {what} after {seconds:.0f} s"
                raise StackError(msg)
            await asyncio.sleep(1.0)

    # --- bringing it up ---------------------------------------------------------

    async def bootstrap(self, session: aiohttp.ClientSession) -> str:
        """Onboard, add or reauthenticate the integration; return its entry id."""
        sim = await self.onboard(session)
        entries = await self.entries(session)
        if not entries:
            entry_id = await self._add_integration(session, sim)
            await self._use_demo_prices(session, entry_id)
        else:
            entry_id = entries[0]["entry_id"]
            if not await self._reauthenticate_if_asked(session, entry_id, sim):
                # A login of another simulator account (a config/ from before
                # the token store): start the integration afresh.
                print("dev stack: the stored login is of another account; re-adding")
                await self.call(
                    session, "DELETE", f"/api/config/config_entries/entry/{entry_id}"
                )
                entry_id = await self._add_integration(session, sim)
                await self._use_demo_prices(session, entry_id)
        await self._smart_charging_on(session)
        return entry_id

    async def onboard(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        """Onboard Home Assistant (or log in); return the simulator's account.

        What ``bootstrap`` does before the integration: a browser test adds
        the integration itself, with the client id, client secret, refresh
        token, token URL and API base URL returned here (the simulator's
        tokens file), then calls ``prepare``.
        """
        steps = await self.wait_for("Home Assistant", lambda: self._onboarding(session))
        done = {step["step"] for step in steps if step["done"]}
        if "user" not in done:
            await self._create_user(session)
        else:
            await self._log_in(session)
        if "core_config" not in done:
            await self.ws(session, {"type": "config/core/update", **CORE_CONFIG})
            await self.call(session, "POST", "/api/onboarding/core_config")
        if "analytics" not in done:
            await self.call(session, "POST", "/api/onboarding/analytics")
        if "integration" not in done:
            client = f"{self.ha_url}/"
            await self.call(
                session,
                "POST",
                "/api/onboarding/integration",
                {"client_id": client, "redirect_uri": client},
            )
        sim: dict[str, Any] = await self.wait_for(
            "the simulator", self._simulator_tokens
        )
        return sim

    async def prepare(self, session: aiohttp.ClientSession, entry_id: str) -> None:
        """What ``bootstrap`` does after adding the integration.

        A departure 12 hours ahead, the demo price sensor as the tariff, and
        *Smart charging* on.
        """
        await self._use_demo_prices(session, entry_id)
        await self._smart_charging_on(session)

    async def _smart_charging_on(self, session: aiohttp.ClientSession) -> None:
        await self.wait_for(
            "the car's entities",
            lambda: self.call(
                session, "GET", f"/api/states/switch.{CAR}_smart_charging"
            ),
        )
        await self.call(
            session,
            "POST",
            "/api/services/switch/turn_on",
            {"entity_id": f"switch.{CAR}_smart_charging"},
        )

    async def entries(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        """The integration's config entries, as the integrations page lists them."""
        entries: list[dict[str, Any]] = await self.call(
            session, "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        return entries

    async def _entry_state(self, session: aiohttp.ClientSession, entry_id: str) -> str:
        """One entry's state (``loaded``, ``setup_error`` …)."""
        entries = await self.entries(session)
        return str(next(e["state"] for e in entries if e["entry_id"] == entry_id))

    async def _onboarding(
        self, session: aiohttp.ClientSession
    ) -> list[dict[str, Any]] | None:
        """Onboarding's steps; all done once Home Assistant no longer serves them."""
        async with session.get(f"{self.ha_url}/api/onboarding") as response:
            if response.status == 404:
                return [{"step": step, "done": True} for step in ONBOARDING]
            if response.status != 200:
                return None
            steps: list[dict[str, Any]] = await response.json()
            return steps

    async def _simulator_tokens(self) -> dict[str, Any] | None:
        path = self.config / "simulator_tokens.json"
        if not path.exists():
            return None
        with contextlib.suppress(ValueError):
            tokens: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return tokens
        return None

    async def _create_user(self, session: aiohttp.ClientSession) -> None:
        client = f"{self.ha_url}/"
        user = await self.call(
            session,
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client,
                "name": "Developer",
                "username": USER,
                "password": PASSWORD,
                "language": "en",
            },
            auth=False,
        )
        await self._exchange(session, user["auth_code"])

    async def _log_in(self, session: aiohttp.ClientSession) -> None:
        """Home Assistant's login flow, as the login page uses it."""
        client = f"{self.ha_url}/"
        flow = await self.call(
            session,
            "POST",
            "/auth/login_flow",
            {
                "client_id": client,
                "handler": ["homeassistant", None],
                "redirect_uri": client,
            },
            auth=False,
        )
        result = await self.call(
            session,
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": client, "username": USER, "password": PASSWORD},
            auth=False,
        )
        if result.get("type") != "create_entry":
            msg = f"cannot log in as {USER}: {result.get('errors')}"
            raise StackError(msg)
        await self._exchange(session, result["result"])

    async def _exchange(self, session: aiohttp.ClientSession, code: str) -> None:
        answer = await self.call(
            session,
            "POST",
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": f"{self.ha_url}/",
            },
            form=True,
            auth=False,
        )
        self.token = answer["access_token"]

    async def _add_integration(
        self, session: aiohttp.ClientSession, sim: dict[str, Any]
    ) -> str:
        """The config flow: manual sign-in, the simulator as a custom region."""
        flow = await self.call(
            session, "POST", "/api/config/config_entries/flow", {"handler": DOMAIN}
        )
        path = f"/api/config/config_entries/flow/{flow['flow_id']}"
        await self.call(session, "POST", path, {"next_step_id": "manual"})
        flow = await self.call(
            session,
            "POST",
            path,
            {
                "client_id": sim["client_id"],
                "client_secret": sim["client_secret"],
                "refresh_token": sim["refresh_token"],
                "advanced": {"token_url": sim["token_url"]},
            },
        )
        if flow.get("step_id") == "region":
            flow = await self.call(
                session,
                "POST",
                path,
                {"region": "custom", "api_base_url": sim["api_base_url"]},
            )
        flow = await self.call(session, "POST", path, {"vins": [VIN], "home": HOME})
        if flow.get("step_id") == "virtual_key":
            # The car accepts only signed commands: Home Assistant serves the
            # key, Tesla (the simulator) fetches it, and the owner pairs it.
            flow = await self.call(
                session,
                "POST",
                path,
                {"key_domain": KEY_DOMAIN, "serve_key": True, "register_domain": True},
            )
            if flow.get("step_id") == "pair":
                await self.call(
                    session, "POST", f"/sim/vehicles/{VIN}/pair", {"domain": KEY_DOMAIN}
                )
                flow = await self.call(session, "POST", path, {"pair_later": False})
        if flow.get("type") != "create_entry":
            said = (flow.get("description_placeholders") or {}).get("tesla_error")
            msg = (
                f"the config flow ended at {flow.get('step_id')}: {flow.get('errors')}"
                f" {said or ''}"
            )
            raise StackError(msg)
        return str(flow["result"]["entry_id"])

    async def _use_demo_prices(
        self, session: aiohttp.ClientSession, entry_id: str
    ) -> None:
        """A departure 12 hours ahead; the options flow: the demo price sensor."""
        departure = f"time.{CAR}_departure_time"
        await self.wait_for(
            "the departure time",
            lambda: self.call(session, "GET", f"/api/states/{departure}"),
        )
        local = datetime.now(ZoneInfo(CORE_CONFIG["time_zone"])) + timedelta(hours=12)
        wanted = f"{local.hour:02d}:00:00"
        await self.call(
            session,
            "POST",
            "/api/services/time/set_value",
            {"entity_id": departure, "time": wanted},
        )
        await self.wait_for(
            "the demo price sensor",
            lambda: self.call(session, "GET", f"/api/states/{DEMO_PRICES}"),
        )
        flow = await self.call(
            session,
            "POST",
            "/api/config/config_entries/options/flow",
            {"handler": entry_id},
        )
        values = form_values(flow["data_schema"])
        values["charging"].update(
            tariff="price_entity", price_entity=DEMO_PRICES, price_attribute="prices"
        )
        result = await self.call(
            session,
            "POST",
            f"/api/config/config_entries/options/flow/{flow['flow_id']}",
            values,
        )
        if result.get("type") != "create_entry":
            msg = f"the options flow refused: {result.get('errors')}"
            raise StackError(msg)

        async def reloaded() -> bool:
            state = await self.call(session, "GET", f"/api/states/{departure}")
            loaded = await self._entry_state(session, entry_id) == "loaded"
            return bool(loaded and state["state"] == wanted)

        await self.wait_for("the entry to reload with the new options", reloaded)

    async def _reauthenticate_if_asked(
        self, session: aiohttp.ClientSession, entry_id: str, sim: dict[str, Any]
    ) -> bool:
        """Finish a reauthentication Home Assistant asks for, with a fresh login.

        Returns False when that login is of another account (refused).
        """

        async def settled() -> str | None:
            state = await self._entry_state(session, entry_id)
            return None if state in {"not_loaded", "setup_in_progress"} else state

        if await self.wait_for("the integration to start", settled) == "loaded":
            return True
        (flows,) = await self.ws(session, {"type": "config_entries/flow/progress"})
        for flow in flows:
            if flow["handler"] != DOMAIN or flow["context"].get("source") != "reauth":
                continue
            result = await self.call(
                session,
                "POST",
                f"/api/config/config_entries/flow/{flow['flow_id']}",
                {"client_id": sim["client_id"], "refresh_token": sim["refresh_token"]},
            )
            print(f"dev stack: reauthentication: {result.get('reason')}", flush=True)
            return bool(result.get("reason") == "reauth_successful")
        return True

    async def drive_home(self, session: aiohttp.ClientSession, minutes: float) -> None:
        """Send the car home (navigating, plugged in on arrival); let the scout look."""
        await self.call(
            session,
            "POST",
            f"/sim/vehicles/{VIN}",
            {
                "drive_to": {
                    "position": [HOME["latitude"], HOME["longitude"]],
                    "minutes": minutes,
                    "destination_name": "Home",
                    "plug_in_after_s": 10,
                }
            },
        )
        # What a user's automation could do too: ask for a fresh look now.
        await self.call(
            session,
            "POST",
            "/api/services/homeassistant/update_entity",
            {"entity_id": f"device_tracker.{CAR}_location"},
        )


def form_values(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """A form's current values, as the frontend sends them back unchanged."""
    values: dict[str, Any] = {}
    for item in schema:
        if item.get("type") == "expandable":
            values[item["name"]] = form_values(item["schema"])
            continue
        description = item.get("description") or {}
        value = description.get("suggested_value", item.get("default"))
        if value is not None:
            values[item["name"]] = value
    return values


async def develop(stack: Stack, drive_minutes: float) -> None:
    """Bring the stack up, print how to use it, send the car home, then wait."""
    async with aiohttp.ClientSession() as session:
        await stack.bootstrap(session)
        print(
            "\n"
            f"  Home Assistant: {stack.ha_url}  (log in as {USER} / {PASSWORD})\n"
            f"  Dashboard:      {stack.ha_url}/dashboard-tesla\n"
            f"  Simulator:      {stack.sim_url}/sim/vehicles\n"
            f"  The car drives home now ({drive_minutes:g} min); Ctrl+C stops all.\n",
            flush=True,
        )
        await stack.drive_home(session, drive_minutes)
    while True:
        stack.check_running()
        await asyncio.sleep(2.0)


def _interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM stops the stack as Ctrl+C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``scripts/develop``: run the stack in the foreground until Ctrl+C.

    Run as ``python -m scripts.dev_stack`` from the repository's root.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config")
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant's")
    parser.add_argument("--sim-port", type=int, default=8100)
    parser.add_argument("--drive-minutes", type=float, default=3.0)
    args = parser.parse_args(argv)
    stack = Stack(args.config, args.port, args.sim_port)
    signal.signal(signal.SIGTERM, _interrupt)
    stack.start()
    try:
        asyncio.run(develop(stack, args.drive_minutes))
    except KeyboardInterrupt:
        print("\ndev stack: stopping", flush=True)
    except StackError as err:
        print(f"dev stack: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
