"""A fault soak: the whole integration in Home Assistant against the simulator.

Home Assistant (the test harness, with its real aiohttp session) runs the
integration against the Fleet API simulator on loopback, in compressed time:
the frozen clock jumps from one scheduled timer to the next (at most a minute
at a time), and between jumps the event loop runs until the requests in
flight are answered. The simulator reads the same frozen clock, so the car
drives, sleeps and charges on the same timeline the integration sees.

Faults come from a :class:`simulator.FaultMix` at configurable rates. The
report holds what the issue asks for: days, faults by kind, requests (total
and the busiest hour), refreshes, wakes, worker runs, errors logged and
tokens lost.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import math
import os
import time
from typing import Any

from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Middleware
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util.async_ import get_scheduled_timer_handles
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_CLIENT_ID,
    CONF_COMMAND_PROXY_URL,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_TARIFF,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    DOMAIN,
    EVENT_TYPE,
)
from custom_components.tesla_scout_worker.domain.policy import MIN_INTERVAL_S
from simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_VIN,
    HOME_WARSAW,
    FaultMix,
    FleetSimulator,
    TokenError,
    create_app,
    decode_jwt_payload,
)
from simulator.scenarios import commute
from tests import async_store_settings

_LOGGER = logging.getLogger(__name__)
MAX_STEP_S = 60.0
SETTLE_YIELDS = 400


@dataclass
class SoakReport:
    """The figures of one soak."""

    days: float
    faults: dict[str, int]
    requests_total: int
    requests_max_per_hour: int
    requests_by_kind: dict[str, int]
    refreshes: int
    wakes: int
    worker_runs: int
    worker_results: dict[str, int]
    max_wakes_per_worker_run: int
    retry_after_violations: int
    base_urls_used: list[str]
    errors_logged: list[str]
    warnings_logged: dict[str, int]
    tokens_lost: int
    unavailable_after_recovery: list[str]
    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    def lines(self) -> list[str]:
        """A short human-readable summary."""
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return [
            f"simulated days: {self.days:g}",
            f"faults injected: {sum(self.faults.values())} ({faults})",
            f"requests: {self.requests_total} total, "
            f"at most {self.requests_max_per_hour} in one hour",
            f"refreshes: {self.refreshes}; wakes: {self.wakes}; "
            f"worker runs: {self.worker_runs}; most wakes in one run: "
            f"{self.max_wakes_per_worker_run}",
            f"errors logged: {len(self.errors_logged)}; warnings: "
            f"{sum(self.warnings_logged.values())}; tokens lost: {self.tokens_lost}",
            f"Retry-After violations: {self.retry_after_violations}; "
            f"Fleet API hosts used: {', '.join(self.base_urls_used)}",
            f"run time: {self.seconds:.1f} s ({self.cpu_seconds:.1f} s CPU, "
            f"{self.steps} clock steps)",
        ]


@dataclass
class Soak:
    """One entry on one simulator, and the clock that drives both."""

    hass: HomeAssistant
    freezer: FrozenDateTimeFactory
    sim: FleetSimulator
    server: TestServer
    entry: MockConfigEntry
    mix: FaultMix
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    records: list[logging.LogRecord] = field(default_factory=list)
    base_urls: set[str] = field(default_factory=set)
    steps: int = 0

    @property
    def base_url(self) -> str:
        """The simulator's address."""
        return str(self.server.make_url("")).rstrip("/")

    async def settle(self) -> None:
        """Run the loop until Home Assistant's tasks are done (or wait on a timer)."""
        for index in range(SETTLE_YIELDS):
            await asyncio.sleep(0)
            if index % 8 == 7 and not _busy(self.hass):
                return

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass, timer by timer."""
        target = time.time() + seconds
        while (remaining := target - time.time()) > 0:
            await self.settle()
            step = min(remaining, MAX_STEP_S, _next_timer_in(self.hass))
            self.steps += 1
            self.freezer.tick(timedelta(seconds=max(step, 0.001)))
            async_fire_time_changed(self.hass)
        await self.settle()

    def report(self, days: float) -> SoakReport:
        """Count what happened so far."""
        requests = self.sim.requests
        api = [r for r in requests if r.kind != "token"]
        per_hour = Counter(math.floor(r.time / 3600) for r in api)
        finished = sorted(
            t
            for t, data in self.events
            if data["type"] == "worker_finished" and data.get("vin") == DEFAULT_VIN
        )
        wakes = [r.time for r in api if r.kind == "wake_up"]
        wakes_per_run = Counter(
            next((i for i, end in enumerate(finished) if t <= end), len(finished))
            for t in wakes
        )
        results = Counter(
            str(data.get("result"))
            for _t, data in self.events
            if data["type"] == "worker_finished"
        )
        return SoakReport(
            days=days,
            faults={str(kind): n for kind, n in self.mix.injected.items()},
            requests_total=len(requests),
            requests_max_per_hour=max(per_hour.values(), default=0),
            requests_by_kind=dict(Counter(r.kind for r in requests)),
            refreshes=sum(
                1 for r in requests if r.kind == "token" and 200 <= r.status < 300
            ),
            wakes=len(wakes),
            worker_runs=len(finished),
            worker_results=dict(results),
            max_wakes_per_worker_run=max(wakes_per_run.values(), default=0),
            retry_after_violations=_retry_after_violations(self),
            base_urls_used=sorted(self.base_urls),
            errors_logged=[
                f"{r.name}: {r.getMessage()}"
                for r in self.records
                if r.levelno >= logging.ERROR
            ],
            warnings_logged=dict(
                Counter(
                    f"{r.name}: {r.msg}"
                    for r in self.records
                    if r.levelno == logging.WARNING
                )
            ),
            tokens_lost=0,
            unavailable_after_recovery=[],
            steps=self.steps,
        )

    def unavailable_entities(self) -> list[str]:
        """This entry's entities that are unavailable now."""
        registry = er.async_get(self.hass)
        return [
            entity.entity_id
            for entity in er.async_entries_for_config_entry(
                registry, self.entry.entry_id
            )
            if not entity.disabled
            and (state := self.hass.states.get(entity.entity_id)) is not None
            and state.state == STATE_UNAVAILABLE
        ]

    def token_lost(self) -> bool:
        """Whether the entry's refresh token no longer works at Tesla (consumes it)."""
        refresh_token = self.entry.data[CONF_TOKEN]["refresh_token"]
        try:
            self.sim.tokens.refresh(DEFAULT_CLIENT_ID, refresh_token)
        except TokenError:
            return True
        return False


def _busy(hass: HomeAssistant) -> bool:
    tasks = hass._tasks | hass._background_tasks  # the harness's own view
    return any(not task.done() for task in tasks)


def _next_timer_in(hass: HomeAssistant) -> float:
    """Seconds until the earliest scheduled timer that matters here.

    Home Assistant's legacy device tracker checks for stale devices every 5 s;
    that timer is left to fire late (the soak has no legacy devices), or a day
    would take 17 000 steps instead of 1 500.
    """
    now = hass.loop.time()
    soonest = now + MAX_STEP_S
    for handle in get_scheduled_timer_handles(hass.loop):
        when = handle.when()
        if when >= soonest or handle.cancelled():
            continue
        if "async_update_stale" in repr(getattr(handle, "_callback", None)):
            continue
        soonest = when
    return max(soonest - now, 0.0)


def _retry_after_violations(soak: Soak) -> int:
    """Requests sent while the ``Retry-After`` of a 429 for their kind still ran.

    Tesla's limits are per vehicle and kind of request (data, commands,
    wakes); a 429 with ``Retry-After`` asks that kind to wait.
    """
    asked = {(when, path) for when, path, kind in soak.mix.history if kind == "429"}
    blocked: dict[tuple[str, str | None], float] = {}
    violations = 0
    for record in soak.sim.requests:
        key = (record.kind, record.vin)
        if record.time < blocked.get(key, 0.0) - 1:
            violations += 1
            _LOGGER.debug(
                "Retry-After not honoured: %s %s, %.0f s early",
                record.kind,
                record.path,
                blocked[key] - record.time,
            )
        if record.status == 429 and (record.time, record.path) in asked:
            blocked[key] = record.time + soak.mix.retry_after
    return violations


class _Collector(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@asynccontextmanager
async def soak_rig(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    *,
    start: datetime,
    days: int,
    mix: FaultMix,
    options: dict[str, Any] | None = None,
    middlewares: Sequence[Middleware] = (),
) -> AsyncIterator[Soak]:
    """The simulator with a commuting car and a loaded entry on it.

    ``middlewares`` run before the simulator's own (to hold a request open).
    """
    await hass.config.async_set_time_zone("Europe/Warsaw")
    # asyncio's debug mode times callbacks on the loop clock, which jumps here.
    hass.loop.set_debug(False)
    freezer.move_to(start)
    sim = FleetSimulator(
        lambda: time.time(),  # the frozen clock, read at each call
        access_token_lifetime=8 * 3600,
        # Single-use refresh tokens, no grace: a lost rotation shows at once.
        refresh_grace=0,
    )
    sim.vehicles[DEFAULT_VIN].battery_level = 45
    commute(sim, DEFAULT_VIN, start.timestamp(), days=days + 1)
    app = create_app(sim)
    app.middlewares[0:0] = middlewares
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    tokens = sim.issue_tokens()
    claims = decode_jwt_payload(tokens["access_token"])
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Soak",
        unique_id=claims["sub"],
        data={
            CONF_TOKEN: {**tokens, "expires_at": time.time() + tokens["expires_in"]},
            CONF_CLIENT_ID: DEFAULT_CLIENT_ID,
            CONF_API_BASE_URL: base,
            CONF_TOKEN_URL: f"{base}/oauth2/v3/token",
            CONF_VINS: [DEFAULT_VIN],
        },
        options={
            CONF_HOME_LATITUDE: HOME_WARSAW[0],
            CONF_HOME_LONGITUDE: HOME_WARSAW[1],
            CONF_HOME_RADIUS: 100.0,
            CONF_COMMAND_PROXY_URL: f"{base}/proxy",
            CONF_TARIFF: "g12",
            **(options or {}),
        },
    )
    soak = Soak(hass, freezer, sim, server, entry, mix)

    @callback
    def listener(event: Event) -> None:
        soak.events.append((time.time(), dict(event.data)))

    unsubscribe = hass.bus.async_listen(EVENT_TYPE, listener)
    collector = _Collector(soak.records)
    logging.getLogger().addHandler(collector)
    await async_store_settings(hass, entry.entry_id, entry.data[CONF_VINS])
    sim.chaos = mix
    try:
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        await soak.settle()
        yield soak
    finally:
        sim.chaos = None
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        logging.getLogger().removeHandler(collector)
        unsubscribe()
        await server.close()


async def run_soak(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    *,
    days: int,
    recovery_hours: float = 2.0,
    mix: FaultMix,
    start: datetime | None = None,
) -> SoakReport:
    """Soak ``days`` with faults, then ``recovery_hours`` without; report."""
    began, cpu = os.times().elapsed, time.process_time()  # not frozen
    start = start or datetime(2026, 10, 19, 0, 0, tzinfo=UTC)
    async with soak_rig(hass, freezer, start=start, days=days, mix=mix) as soak:
        for _hour in range(days * 24):
            await soak.advance(3600)
            soak.base_urls.add(soak.entry.data[CONF_API_BASE_URL])
        mix.enabled = False
        await soak.advance(recovery_hours * 3600)
        report = soak.report(days)
        report.unavailable_after_recovery = soak.unavailable_entities()
        loaded = soak.entry.state is ConfigEntryState.LOADED
        reauth = any(
            flow["context"].get("source") == "reauth"
            for flow in hass.config_entries.flow.async_progress()
        )
        await hass.config_entries.async_unload(soak.entry.entry_id)
        await hass.async_block_till_done()
        report.tokens_lost = int(soak.token_lost() or reauth or not loaded)
    report.seconds = os.times().elapsed - began
    report.cpu_seconds = time.process_time() - cpu
    return report


__all__ = ["MIN_INTERVAL_S", "Soak", "SoakReport", "run_soak", "soak_rig"]
