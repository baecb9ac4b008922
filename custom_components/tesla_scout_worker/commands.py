"""User commands (charging on/off, the charge limit): sent here, errors translated here.

The one path from a user's action to the car: Tesla's monthly limit is checked
first, a sleeping car is woken once through the worker's one wake path (a per-car
lock shared with the runs), what the car accepted is taken into its status, and
every Fleet error becomes one translated :class:`HomeAssistantError` (in the
manner of WLED's ``wled_exception_handler``). The worker's own runs send their
schedule commands in ``domain/worker_run.py`` and never raise: their errors are
their result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import time
from typing import Any

from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN
from .domain.tracker import VehicleTracker
from .fleet import (
    CommandFailedError,
    CommandProtocolRequiredError,
    KeyNotPairedError,
    MobileAccessDisabledError,
    RateLimitedError,
    TeslaFleetError,
    UsageLimitExceededError,
    VehicleUnavailableError,
)
from .fleet.tokens import TOKEN_ERRORS
from .issues import format_until
from .models import TeslaScoutWorkerData
from .tokens import token_error_to_ha


async def async_send_command(
    runtime: TeslaScoutWorkerData,
    vin: str,
    name: str,
    send: Callable[[], Awaitable[Any]],
    **status_changes: Any,
) -> None:
    """Send command ``name`` to one car for the user; raise what they can read.

    Nothing is sent while Tesla's monthly limit holds (each refusal is billed
    too). What the car said shows at once, accepted or refused: on the
    entities and in the repairs (mobile access off, the limit).
    """
    tracker = runtime.scout.tracker
    if tracker.usage_blocked(now := time.time()):
        raise _usage_limit_error(tracker)
    try:
        try:
            await send()
        except VehicleUnavailableError:
            await runtime.worker.charging.async_wake(vin)
            await send()
    except TeslaFleetError as err:
        _note(tracker, vin, err, now)
        if isinstance(err, KeyNotPairedError):
            runtime.worker.pairing.async_note(vin, paired=False)
        raise _translated(tracker, vin, name, err) from err
    else:
        tracker.note_answered(vin)
        if tracker.client.signs(vin):
            runtime.worker.pairing.async_note(vin, paired=True)
        if status_changes:
            tracker.note_command(vin, **status_changes)
    finally:
        # Now, not at the next loop turn: the action's caller reads it next.
        runtime.scout.async_publish()


def _note(tracker: VehicleTracker, vin: str, err: TeslaFleetError, now: float) -> None:
    """What a refusal teaches the tracker (the same lessons as a run's)."""
    if isinstance(err, MobileAccessDisabledError):
        tracker.note_access_disabled(vin, now)
    elif isinstance(err, UsageLimitExceededError):
        tracker.note_usage_limit(err, now)
    elif isinstance(err, RateLimitedError):
        # Sent anyway (the user asked), but the limit holds for reads.
        tracker.note_rate_limit(err, time.time())


def _translated(
    tracker: VehicleTracker, vin: str, name: str, err: TeslaFleetError
) -> HomeAssistantError:
    """The user's words for a Fleet error of a command."""
    if isinstance(err, TOKEN_ERRORS):
        return token_error_to_ha(err)
    if isinstance(err, MobileAccessDisabledError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="mobile_access_disabled",
            translation_placeholders={"vehicle": tracker.car(vin).status.name},
        )
    if isinstance(err, UsageLimitExceededError):
        return _usage_limit_error(tracker)
    if isinstance(err, KeyNotPairedError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="key_not_paired",
            translation_placeholders={"vehicle": tracker.car(vin).status.name},
        )
    if isinstance(err, CommandProtocolRequiredError):
        return HomeAssistantError(
            translation_domain=DOMAIN, translation_key="command_protocol_required"
        )
    if isinstance(err, CommandFailedError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="command_failed",
            translation_placeholders={"command": name, "reason": err.reason},
        )
    if isinstance(err, VehicleUnavailableError):
        return HomeAssistantError(
            translation_domain=DOMAIN, translation_key="vehicle_asleep"
        )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="cannot_reach_tesla",
        translation_placeholders={"error": type(err).__name__},
    )


def _usage_limit_error(tracker: VehicleTracker) -> HomeAssistantError:
    """Tesla disabled the application until the limit resets."""
    until = tracker.usage_blocked_until or time.time()
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="usage_limit_exceeded",
        translation_placeholders={"until": format_until(until)},
    )
