"""Everything at once while the token expires: one refresh, one answer for all.

A scout cycle, two worker runs (the action and the button), the refresh
action, and other local tools reading and refreshing the shared token all
start at the same instant, just after the access token expired, while
Tesla's token endpoint is slow to answer. The whole integration runs in Home
Assistant against the simulator over HTTP (tests/soak.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.tesla_scout_worker.const import (
    CONF_SHARE_TOKEN,
    CONF_TOKEN,
    DOMAIN,
)
from simulator import DEFAULT_VIN, FaultMix

from .soak import soak_rig

START = datetime(2026, 10, 19, 0, 0, tzinfo=UTC)  # 02:00 on a Monday in Warsaw


class TokenGate:
    """Holds Tesla's token endpoint open until the test lets it answer."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.arrived = 0

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if request.path == "/oauth2/v3/token":
            self.arrived += 1
            await self.open.wait()
        return await handler(request)


def everything(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    client: TestClient[web.Request, web.Application],
) -> list[Awaitable[Any]]:
    """A scout cycle, two worker runs, three refresh actions, six token-view calls."""
    url = f"/api/{DOMAIN}/{entry.entry_id}"
    scout = entry.runtime_data.scout
    return [
        scout.async_refresh(),
        hass.services.async_call(
            DOMAIN,
            "run_worker",
            {"config_entry_id": entry.entry_id},
            blocking=True,
            return_response=True,
        ),
        hass.services.async_call(
            "button",
            "press",
            {ATTR_ENTITY_ID: "button.sim_model_3_run_worker"},
            blocking=True,
        ),
        *(
            hass.services.async_call(
                DOMAIN,
                "refresh_token",
                {"config_entry_id": entry.entry_id},
                blocking=True,
            )
            for _ in range(3)
        ),
        *(client.get(f"{url}/token") for _ in range(4)),
        *(client.post(f"{url}/refresh") for _ in range(2)),
    ]


@pytest.mark.usefixtures("socket_enabled")
async def test_everything_at_once_while_the_token_expires(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
) -> None:
    gate = TokenGate()
    gate.open.set()
    async with soak_rig(
        hass,
        freezer,
        start=START,
        days=1,
        mix=FaultMix(rates={}),
        options={CONF_SHARE_TOKEN: True},
        middlewares=[gate.middleware],
    ) as soak:
        entry, sim = soak.entry, soak.sim
        await soak.advance(3600)
        old = dict(entry.data[CONF_TOKEN])
        # The car wakes at home with less charge: the plan changes, so a
        # worker run has one schedule to write.
        car = sim.vehicles[DEFAULT_VIN]
        sim.request_wake(car)
        await soak.advance(30)
        car.battery_level, car.charge_limit_soc = 30, 90
        # The token expires without a timer noticing; Tesla's token endpoint
        # is slow today.
        gate.open.clear()
        freezer.move_to(datetime.fromtimestamp(old["expires_at"] + 1, UTC))
        since = len(sim.requests)
        # Another local tool signs in to Home Assistant (a token of now).
        refresh_token = await hass.auth.async_create_refresh_token(
            hass_admin_user, CLIENT_ID
        )
        client = await hass_client(hass.auth.async_create_access_token(refresh_token))

        tasks = [
            asyncio.ensure_future(call) for call in everything(hass, entry, client)
        ]
        await soak.settle()

        # Everyone waits for the one refresh in flight (the button only
        # schedules its run).
        gate_held = gate.arrived
        waiting = [i for i, task in enumerate(tasks) if not task.done()]
        gate.open.set()
        assert gate_held == 1
        assert waiting == [i for i in range(len(tasks)) if i != 2]
        for _ in range(120):
            if all(task.done() for task in tasks):
                break
            await soak.advance(5)
        assert [i for i, task in enumerate(tasks) if not task.done()] == []
        results = [task.result() for task in tasks]
        await soak.advance(120)

        new = entry.data[CONF_TOKEN]
        phase = sim.requests[since:]
        # One refresh, and it rotated the token.
        assert gate.arrived == 1
        assert [r.kind for r in phase].count("token") == 1
        assert new["refresh_token"] != old["refresh_token"]
        assert new["access_token"] != old["access_token"]
        # Every caller got the new token.
        token_answers = [await r.json() for r in results[6:10]]
        assert {a["access_token"] for a in token_answers} == {new["access_token"]}
        assert all(r.status == 200 for r in results[6:10])
        refresh_answers = [await r.json() for r in results[10:]]
        assert all(a["success"] for a in refresh_answers), refresh_answers
        # Every Fleet API request after the refresh carried the new token.
        assert sim.authenticate(new["access_token"]) is not None
        assert sim.authenticate(old["access_token"]) is None
        assert all(r.status < 400 for r in phase), [(r.kind, r.status) for r in phase]
        # Two worker runs at once wrote the new schedule once, not twice.
        commands = Counter(r.command for r in phase if r.kind == "command")
        assert commands, "the changed plan was not written"
        assert max(commands.values()) == 1, commands
        schedule_ids = [s.id for s in car.charge_schedules]
        assert len(schedule_ids) == len(set(schedule_ids)) == 1
        assert results[1] == {"results": {DEFAULT_VIN: "applied"}}
        # The car fell asleep again: woken once, for the one run that wrote.
        assert [r.kind for r in phase].count("wake_up") == 1
