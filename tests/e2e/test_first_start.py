"""End to end: Home Assistant and the simulator, as ``scripts/develop`` runs them.

A newcomer's first start in a temporary folder: onboarding through Home
Assistant's own API, the integration through its config flow, the car driven
home; then the device page and the dashboard in headless Chromium, whose
screenshots the README shows (``docs/``).

Runs on the minimum stack only (``scripts/test``): it needs Home Assistant's
frontend and Playwright (``requirements_dev.txt``) and Debian's ``chromium``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp
from playwright.async_api import async_playwright
import pytest

from scripts.dev_stack import CAR, DOMAIN, KEY_DOMAIN, VIN, Stack
from tests.e2e.conftest import CHROMIUM_ARGS, DOCS, log_in, settle

EVENT = f"{DOMAIN}_event"

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_a_first_start_needs_no_click_but_the_login(
    chromium: str, stack: Stack
) -> None:
    # Chromium first: without it the test skips before the stack starts.
    """From an empty folder to a car at home with a plan, its schedule in the car."""
    async with aiohttp.ClientSession() as session:
        entry_id = await stack.bootstrap(session)
        onboarding = await stack.call(session, "GET", "/api/onboarding", auth=False)
        assert all(step["done"] for step in onboarding), onboarding
        (core,) = await stack.ws(session, {"type": "get_config"})
        assert (core["latitude"], core["longitude"]) == (52.2297, 21.0122)
        assert (core["time_zone"], core["currency"]) == ("Europe/Warsaw", "PLN")

        states = {
            s["entity_id"]: s for s in await stack.call(session, "GET", "/api/states")
        }
        for key in ("vehicle_state", "battery_level", "planned_charge_start"):
            assert f"sensor.{CAR}_{key}" in states
        assert states[f"switch.{CAR}_smart_charging"]["state"] == "on"

        async with stack.websocket(session) as events:
            await events.send_json(
                {"id": 1, "type": "subscribe_events", "event_type": EVENT}
            )
            assert (await events.receive_json())["success"]

            await stack.drive_home(session, minutes=0.5)
            seen = await _events_until_worker_finished(events)
        by_type = {event["type"]: event for event in seen}
        assert by_type["arrived_home"]["vin"] == VIN
        assert by_type["arrived_home"]["config_entry_id"] == entry_id
        assert by_type["worker_finished"]["trigger"] == "arrived_home"
        assert by_type["worker_finished"]["result"] == "applied"

        start = await stack.call(
            session, "GET", f"/api/states/sensor.{CAR}_planned_charge_start"
        )
        plan = start["attributes"]
        assert plan["reason"] == "cheapest_window"
        assert datetime.fromisoformat(start["state"]) > datetime.now().astimezone()
        assert plan["average_price"] == 0.42  # the demo sensor's cheap hours
        at_home = await stack.call(
            session, "GET", f"/api/states/binary_sensor.{CAR}_at_home"
        )
        assert at_home["state"] == "on"

        requests = await stack.call(session, "GET", "/sim/requests")
        commands = [r for r in requests if r["category"] == "command"]
        assert "add_charge_schedule" in [r["command"] for r in commands]
        # The car accepts only signed commands: each was signed in Home
        # Assistant with the key it serves, which Tesla (the simulator)
        # fetched when the domain was registered, and the owner paired.
        assert {r["kind"] for r in commands} == {"signed_command"}
        (registered,) = await stack.call(session, "GET", "/sim/partner_accounts")
        assert registered["domain"] == KEY_DOMAIN
        async with session.get(
            f"{stack.ha_url}/.well-known/appspecific/com.tesla.3p.public-key.pem"
        ) as served:
            assert served.status == 200
            assert "BEGIN PUBLIC KEY" in await served.text()
        stats = await stack.call(session, "GET", "/sim/stats")
        assert stats["requests"].get("wake", 0) == 0  # the scout never woke it
        (devices,) = await stack.ws(session, {"type": "config/device_registry/list"})
        (car,) = [
            d for d in devices if [DOMAIN, VIN] in [list(i) for i in d["identifiers"]]
        ]
        await _screenshots(stack, chromium, car["id"])


async def _events_until_worker_finished(
    events: aiohttp.ClientWebSocketResponse,
) -> list[dict[str, Any]]:
    """The integration's events until the worker reports the arrival's run."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(150):
        while True:
            message = await events.receive_json()
            if message.get("type") != "event":
                continue
            seen.append(message["event"]["data"])
            if seen[-1]["type"] == "worker_finished":
                return seen


async def _screenshots(stack: Stack, chromium: str, device_id: str) -> None:
    """Log in as a user does; photograph the device page, dashboard and logbook."""
    DOCS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(
                viewport={"width": 1280, "height": 900},
                timezone_id="Europe/Warsaw",  # the home's, as its owner sees it
            )
            await log_in(page, stack)

            await page.goto(f"{stack.ha_url}/config/devices/device/{device_id}")
            await page.get_by_text("Planned charge start").first.wait_for()
            await settle(page)
            await page.screenshot(path=DOCS / "device.png", full_page=True)

            await page.goto(f"{stack.ha_url}/dashboard-tesla/car")
            await page.get_by_text("Why this plan").first.wait_for()
            await settle(page)
            await page.screenshot(path=DOCS / "dashboard.png", full_page=True)

            # The integration's bus events, in words, in the logbook.
            await page.goto(f"{stack.ha_url}/logbook")
            await page.get_by_text("arrived home").first.wait_for(timeout=30_000)
            await page.get_by_text(
                "wrote the charging schedule to the car (arrived home)"
            ).first.wait_for()
            await settle(page)
            await page.screenshot(path=DOCS / "logbook.png", full_page=True)
        finally:
            await browser.close()
