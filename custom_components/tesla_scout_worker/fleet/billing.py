"""Request accounting with Tesla's Fleet API prices (since 2025).

Every request the client sends is reported here, once, with its category and
HTTP status. "All requests with a status code below 500 are counted as billable
usage", so 401, 408 and 429 answers cost money too; a request that got no answer
costs nothing. Whether the vehicle list and record calls are billed is unverified:
they are counted as data requests, and the figure with them free is kept beside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self


class RequestCategory(StrEnum):
    """What a request is, for billing."""

    STATE = "state"
    """Vehicle list or record: the cheap "is it awake?" check (billed as data)."""
    DATA = "data"
    """Live data from the car (``vehicle_data``) and other data endpoints."""
    COMMAND = "command"
    WAKE = "wake"
    AUTH = "auth"
    """Token endpoint: not billed, not counted as an API request."""


PRICE_USD: Mapping[RequestCategory, float] = {
    RequestCategory.STATE: 1 / 500,
    RequestCategory.DATA: 1 / 500,
    RequestCategory.COMMAND: 1 / 1000,
    RequestCategory.WAKE: 1 / 50,
    RequestCategory.AUTH: 0.0,
}
"""Dollars per request: data $1/500, commands $1/1,000, wakes $1/50."""

MONTHLY_CREDIT_USD = 10.0
"""Tesla's monthly discount per application account."""

BILLED_CATEGORIES = (
    RequestCategory.STATE,
    RequestCategory.DATA,
    RequestCategory.COMMAND,
    RequestCategory.WAKE,
)


def is_billable(status: int | None) -> bool:
    """Tesla bills every answer below 500; no answer, no bill."""
    return status is not None and status < 500


@dataclass
class UsageTotals:
    """Counts of Fleet API requests by category, and of the billable ones."""

    requests: dict[RequestCategory, int] = field(default_factory=dict)
    billable: dict[RequestCategory, int] = field(default_factory=dict)

    def add(self, category: RequestCategory, status: int | None) -> None:
        """Count one request; token requests are not Fleet API requests."""
        if category is RequestCategory.AUTH:
            return
        self.requests[category] = self.requests.get(category, 0) + 1
        if is_billable(status):
            self.billable[category] = self.billable.get(category, 0) + 1

    @property
    def total(self) -> int:
        """All Fleet API requests sent."""
        return sum(self.requests.values())

    def cost_usd(self, *, state_checks_free: bool = False) -> float:
        """Estimated cost of the billable requests in dollars."""
        return sum(
            PRICE_USD[category] * count
            for category, count in self.billable.items()
            if not (state_checks_free and category is RequestCategory.STATE)
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, for storage and attributes."""
        return {
            "requests": {str(k): v for k, v in self.requests.items()},
            "billable": {str(k): v for k, v in self.billable.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Restore :meth:`as_dict`; unknown categories and bad counts are dropped."""

        def counts(value: Any) -> dict[RequestCategory, int]:
            result: dict[RequestCategory, int] = {}
            if not isinstance(value, Mapping):
                return result
            for key, count in value.items():
                if key in RequestCategory.__members__.values() and (
                    isinstance(count, int) and not isinstance(count, bool)
                ):
                    result[RequestCategory(key)] = count
            return result

        return cls(
            requests=counts(data.get("requests")),
            billable=counts(data.get("billable")),
        )
