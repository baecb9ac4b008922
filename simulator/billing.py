"""Request log and billing counters with Tesla's Fleet API prices."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final, Literal

type Category = Literal["data", "command", "wake", "auth", "partner"]
type RequestKind = Literal[
    "list",
    "record",
    "vehicle_data",
    "fleet_status",
    "wake_up",
    "command",
    "signed_command",
    "users",
    "other",
    "token",
    "partner",
]

PRICE_USD: Final[dict[str, float]] = {
    "data": 1 / 500,
    "command": 1 / 1000,
    "wake": 1 / 50,
}
"""Dollars per billable request by category (token requests are free)."""

FREE_CATEGORIES: Final = frozenset({"auth", "partner"})
"""Never billed: the token endpoint and the partner-account registration."""

STATE_CHECK_KINDS: Final = frozenset({"list", "record"})
"""Vehicle list and record: billed as data, but maybe free (unverified)."""


def category_of(kind: RequestKind) -> Category:
    """The billing category of a kind of request."""
    if kind == "token":
        return "auth"
    if kind == "partner":
        return "partner"
    if kind == "wake_up":
        return "wake"
    if kind in {"command", "signed_command"}:
        return "command"
    return "data"


NO_ANSWER: Final = 0
"""The status recorded for a request whose connection was dropped unanswered."""


def is_billable(category: Category, status: int) -> bool:
    """Tesla bills every Fleet API answer below 500; token requests are free.

    So is the partner-account registration (``/api/1/partner_accounts``),
    which touches no vehicle. A request that got no answer at all
    (:data:`NO_ANSWER`) is not billed.
    """
    return category not in FREE_CATEGORIES and NO_ANSWER < status < 500


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the simulator answered."""

    time: float
    method: str
    path: str
    status: int
    category: Category
    kind: RequestKind
    vin: str | None
    proxy: bool = False
    command: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "category": self.category,
            "kind": self.kind,
            "vin": self.vin,
            "proxy": self.proxy,
            "command": self.command,
        }


@dataclass
class SimStats:
    """Counters a test or a benchmark reads to see what a client cost."""

    requests: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    billable: Counter[str] = field(default_factory=Counter)
    billable_state_checks: int = 0
    vehicle_data: Counter[str] = field(default_factory=Counter)
    wakes: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)
    proxy_wakes: int = 0

    def add(self, record: RequestRecord) -> None:
        """Count one answered request."""
        self.requests[record.category] += 1
        self.by_status[record.status] += 1
        if is_billable(record.category, record.status):
            self.billable[record.category] += 1
            if record.kind in STATE_CHECK_KINDS:
                self.billable_state_checks += 1
        if record.vin is not None:
            if record.kind == "vehicle_data":
                self.vehicle_data[record.vin] += 1
            elif record.kind == "wake_up":
                self.wakes[record.vin] += 1
        if record.command is not None:
            self.commands[record.command] += 1
        if record.proxy and record.kind == "wake_up":
            self.proxy_wakes += 1

    @property
    def billable_total(self) -> int:
        """Billable Fleet API requests of every category."""
        return sum(self.billable.values())

    def cost_usd(self, *, state_checks_free: bool = False) -> float:
        """Estimated bill for the billable requests, in dollars."""
        cost = sum(
            PRICE_USD.get(category, 0.0) * count
            for category, count in self.billable.items()
        )
        if state_checks_free:
            cost -= PRICE_USD["data"] * self.billable_state_checks
        return cost

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (status codes become string keys)."""
        return {
            "requests": dict(self.requests),
            "by_status": {str(code): n for code, n in sorted(self.by_status.items())},
            "billable": dict(self.billable),
            "billable_total": self.billable_total,
            "billable_state_checks": self.billable_state_checks,
            "vehicle_data": dict(self.vehicle_data),
            "wakes": dict(self.wakes),
            "commands": dict(self.commands),
            "proxy_wakes": self.proxy_wakes,
            "cost_usd": round(self.cost_usd(), 6),
            "cost_usd_if_state_checks_free": round(
                self.cost_usd(state_checks_free=True), 6
            ),
        }
