"""End to end: a user adds the integration in Chromium, key steps included.

Home Assistant is onboarded through its API (``Stack.onboard``); then the
config flow runs in Home Assistant's own frontend, as a user clicks through
it: the manual sign-in with the simulator's refresh token, the region, the
vehicles, **Publish the key** (Home Assistant serves it, Tesla — the
simulator — fetches it to register the domain) and **Pair the key with your
cars** (the owner pairs it on the phone: here a request to the simulator).
Both key steps are photographed for the README (``docs/key-step.png``,
``docs/pair-step.png``). Then the car drives home and the worker's charging
schedule reaches it as a signed command.

Runs on the minimum stack only, like ``test_first_start.py``.
"""

from __future__ import annotations

import re

import aiohttp
from playwright.async_api import Locator, Page, async_playwright
import pytest

from scripts.dev_stack import CAR, DOMAIN, KEY_DOMAIN, VIN, Stack
from tests.e2e.conftest import CHROMIUM_ARGS, DOCS, log_in, settle

pytestmark = pytest.mark.usefixtures("socket_enabled")

STEP = 30_000
"""How long a step of the flow may take to show (ms): each asks the simulator."""
EXTERNAL_URL = f"https://{KEY_DOMAIN}"
KEY_PATH = "/.well-known/appspecific/com.tesla.3p.public-key.pem"
SERVE = "Home Assistant serves the public key"
REGISTER = "Register the domain with Tesla now"


async def test_a_user_publishes_and_pairs_the_key_in_the_browser(
    chromium: str, stack: Stack
) -> None:
    # Chromium first: without it the test skips before the stack starts.
    """The config flow in the frontend, key steps shown, passed and photographed."""
    async with aiohttp.ClientSession() as session:
        sim = await stack.onboard(session)
        assert await stack.entries(session) == []
        # As at a user's home: Home Assistant reachable at the application's
        # domain. The key form suggests that domain, and serving the key there.
        await stack.ws(
            session, {"type": "config/core/update", "external_url": EXTERNAL_URL}
        )
        await _add_in_browser(chromium, stack, session, sim)

        (entry,) = await stack.entries(session)
        assert entry["domain"] == DOMAIN
        await stack.wait_for(
            "the entry to load",
            lambda: _loaded(stack, session, entry["entry_id"]),
            seconds=60,
        )
        (registered,) = await stack.call(session, "GET", "/sim/partner_accounts")
        assert registered["domain"] == KEY_DOMAIN
        async with session.get(f"{stack.ha_url}{KEY_PATH}") as served:
            assert served.status == 200
            assert "BEGIN PUBLIC KEY" in await served.text()

        # The key works: the worker's schedule reaches the car, signed.
        await stack.prepare(session, entry["entry_id"])
        await stack.drive_home(session, minutes=0.5)

        async def scheduled() -> bool:
            requests = await stack.call(session, "GET", "/sim/requests")
            return any(r.get("command") == "add_charge_schedule" for r in requests)

        await stack.wait_for("the worker's schedule", scheduled, seconds=150)
        requests = await stack.call(session, "GET", "/sim/requests")
        commands = [r for r in requests if r["category"] == "command"]
        assert {r["kind"] for r in commands} == {"signed_command"}
        at_home = await stack.call(
            session, "GET", f"/api/states/binary_sensor.{CAR}_at_home"
        )
        assert at_home["state"] == "on"


async def _add_in_browser(
    chromium: str, stack: Stack, session: aiohttp.ClientSession, sim: dict[str, str]
) -> None:
    """Log in, add the integration, photograph both key steps, pair, finish."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(
                viewport={"width": 1280, "height": 1000},
                timezone_id="Europe/Warsaw",
            )
            try:
                await _add_integration(page, stack, session, sim)
            except Exception:
                # What the browser showed, beside Home Assistant's log.
                await page.screenshot(path=stack.config / "failure.png")
                raise
        finally:
            await browser.close()


async def _add_integration(
    page: Page, stack: Stack, session: aiohttp.ClientSession, sim: dict[str, str]
) -> None:
    await log_in(page, stack)
    await _sign_in(page, stack, sim)
    await _publish_the_key(page)

    await _title(page, "Pair the key with your cars")
    dialog = _dialog(page)
    await dialog.get_by_text("Still to pair: Sim Model 3").wait_for()
    await dialog.get_by_text(f"https://tesla.com/_ak/{KEY_DOMAIN}").first.wait_for()
    await settle(page)
    await _surface(page).screenshot(path=DOCS / "pair-step.png")

    # The owner opens the link on the phone and approves the key.
    await stack.call(
        session, "POST", f"/sim/vehicles/{VIN}/pair", {"domain": KEY_DOMAIN}
    )
    await _submit(page)
    await _title(page, "Success!")
    await dialog.get_by_text("Created configuration for Sim Model 3").wait_for()
    await dialog.get_by_role("button", name="Finish").click()
    await _surface(page).wait_for(state="detached", timeout=STEP)


async def _sign_in(page: Page, stack: Stack, sim: dict[str, str]) -> None:
    """From the add-integration link to the vehicles step, submitted as shown."""
    await page.goto(f"{stack.ha_url}/config/integrations/dashboard/add?domain={DOMAIN}")
    # Home Assistant asks "Do you want to set up Tesla Scout & Worker?".
    await page.get_by_role("button", name="OK").click(timeout=STEP)
    await page.get_by_text("Use an existing refresh token").click(timeout=STEP)

    await _title(page, "Existing refresh token")
    dialog = _dialog(page)
    await dialog.get_by_label("Client ID").fill(sim["client_id"])
    await dialog.get_by_label("Client secret").fill(sim["client_secret"])
    await dialog.get_by_label("Refresh token").fill(sim["refresh_token"])
    await dialog.get_by_text("Advanced settings").click()
    await dialog.get_by_label("Token endpoint URL").fill(sim["token_url"])
    await _submit(page)

    # The simulator's token names Tesla's EU region, whose real Fleet API does
    # not know it (or cannot be reached): Home Assistant asks for the region.
    await _title(page, "Fleet API region|Vehicles and home", 3 * STEP)
    if await dialog.get_by_text("Fleet API region", exact=True).count():
        await dialog.get_by_label("Custom URL").check()
        await dialog.get_by_label("Custom API URL").fill(sim["api_base_url"])
        await _submit(page)

    await _title(page, "Vehicles and home")
    # The defaults: the demo car, and home where Home Assistant's home is.
    assert await dialog.get_by_role(
        "checkbox", name=re.compile("Sim Model 3")
    ).is_checked()
    await _submit(page)


async def _publish_the_key(page: Page) -> None:
    """The domain, Home Assistant serving the key, Tesla registering the domain."""
    await _title(page, "Publish the key")
    dialog = _dialog(page)
    await dialog.get_by_text("-----BEGIN PUBLIC KEY-----").wait_for()
    await dialog.get_by_text(f"https://{KEY_DOMAIN}{KEY_PATH}").first.wait_for()
    domain = dialog.get_by_label("Domain", exact=True)
    serve = dialog.get_by_role("switch", name=SERVE)
    register = dialog.get_by_role("switch", name=REGISTER)
    # The external URL's host, served here, registered now: all suggested.
    assert await domain.input_value() == KEY_DOMAIN
    assert await serve.is_checked()
    assert await register.is_checked()
    # Nothing focused (a focused field or switch looks highlighted).
    await dialog.get_by_text("Publish the key", exact=True).click()
    await settle(page)
    await _surface(page).screenshot(path=DOCS / "key-step.png")
    await _submit(page)


def _dialog(page: Page) -> Locator:
    """The config flow's dialog (its content, in the frontend's shadow roots)."""
    return page.locator("dialog-data-entry-flow")


def _surface(page: Page) -> Locator:
    """The dialog's card, as a screenshot shows it: title, text, form, buttons."""
    return page.locator("dialog-data-entry-flow ha-dialog .mdc-dialog__surface")


async def _title(page: Page, title: str, ms: float = STEP) -> None:
    """Wait for the step whose title matches ``title`` (a regular expression)."""
    await (
        _dialog(page).get_by_text(re.compile(f"^({title})$")).first.wait_for(timeout=ms)
    )


async def _submit(page: Page) -> None:
    await _dialog(page).get_by_role("button", name="Submit").click()


async def _loaded(stack: Stack, session: aiohttp.ClientSession, entry_id: str) -> bool:
    entries = await stack.entries(session)
    return any(e["entry_id"] == entry_id and e["state"] == "loaded" for e in entries)
