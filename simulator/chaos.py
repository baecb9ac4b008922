"""Random faults at configurable rates, for soak tests (``FleetSimulator.chaos``).

Scripted faults (:class:`~simulator.model.Fault`) answer chosen requests; a
:class:`FaultMix` answers any request with a fault drawn at random, with a
seeded generator, so a month of traffic meets every kind of failure Tesla's
edge has been seen to produce. Each kind is the answer as Tesla (or the load
balancer in front of it) gives it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
import random
import re
from typing import Any, Final, Literal, get_args

type FaultKind = Literal[
    "408",
    "429",
    "429_no_retry_after",
    "500",
    "503",
    "504",
    "timeout",
    "reset",
    "html",
    "empty",
    "truncated",
    "421",
    "429_ratelimit_reset",
]
ALL_FAULT_KINDS: Final[tuple[FaultKind, ...]] = get_args(FaultKind.__value__)
EXTRA_FAULT_KINDS: Final[tuple[FaultKind, ...]] = ("429_ratelimit_reset",)
"""Kinds a mix draws only when its rates name them (not :meth:`FaultMix.uniform`),
so that adding one keeps the soak test's month of faults as it was."""
FAULT_KINDS: Final[tuple[FaultKind, ...]] = tuple(
    kind for kind in ALL_FAULT_KINDS if kind not in EXTRA_FAULT_KINDS
)
"""The kinds of :meth:`FaultMix.uniform`."""

# A 421 that points somewhere that is not one of Tesla's hosts: the client must
# never follow it (it would send the bearer token there).
FOREIGN_REGION_URL: Final = "https://fleet-api.attacker.example"

# Tesla API calls and the token endpoint; the control API never fails.
DEFAULT_PATHS: Final = r"^/(proxy/)?api/1/|^/oauth2/v3/token$"


@dataclass(frozen=True, slots=True)
class ChaosAnswer:
    """What the middleware does for one drawn fault.

    ``status`` and ``body`` (a JSON object, text, or None for an empty body)
    make the answer; text is sent as HTML or plain text unless
    ``content_type`` says otherwise; ``delay`` seconds pass first; ``reset``
    drops the connection instead of answering.
    """

    kind: FaultKind
    status: int = 503
    body: str | dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    content_type: str | None = None


def _envelope(error: str) -> dict[str, Any]:
    return {"response": None, "error": error, "error_description": ""}


@dataclass
class FaultMix:
    """Answer each matching request with a random fault, at ``rates`` per kind.

    ``rates`` maps a :data:`FaultKind` to its probability per request; they
    must add up to at most 1. ``timeout_delay`` is how long a "timeout" keeps
    the client waiting (longer than any client timeout); ``retry_after`` the
    seconds a "429" asks for. ``injected`` counts what was drawn, by kind.
    """

    rates: Mapping[FaultKind, float]
    seed: int = 0
    paths: str = DEFAULT_PATHS
    timeout_delay: float = 600.0
    retry_after: int = 120
    enabled: bool = True
    injected: Counter[FaultKind] = field(default_factory=Counter)
    history: list[tuple[float | None, str, FaultKind]] = field(default_factory=list)
    _random: random.Random = field(init=False, repr=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Check the rates and seed the generator."""
        if unknown := set(self.rates) - set(ALL_FAULT_KINDS):
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        if any(rate < 0 for rate in self.rates.values()):
            raise ValueError("fault rates cannot be negative")
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self._random = random.Random(self.seed)  # noqa: S311 - not for security
        self._pattern = re.compile(self.paths)

    @classmethod
    def uniform(cls, total: float, **kwargs: object) -> FaultMix:
        """Every kind equally likely, ``total`` the chance that a request fails."""
        share = total / len(FAULT_KINDS)
        return cls(rates=dict.fromkeys(FAULT_KINDS, share), **kwargs)  # type: ignore[arg-type]

    def draw(self, path: str, now: float | None = None) -> ChaosAnswer | None:
        """The fault for a request to ``path``, or None to answer normally.

        Each fault drawn is kept in ``history`` with ``now`` and the path.
        """
        if not self.enabled or self._pattern.search(path) is None:
            return None
        roll = self._random.random()
        for kind in ALL_FAULT_KINDS:
            roll -= self.rates.get(kind, 0.0)
            if roll < 0:
                self.injected[kind] += 1
                self.history.append((now, path, kind))
                return self.answer(kind)
        return None

    def answer(self, kind: FaultKind) -> ChaosAnswer:
        """The answer of one fault kind."""
        answers: dict[FaultKind, ChaosAnswer] = {
            "408": ChaosAnswer(
                kind,
                408,
                _envelope("vehicle unavailable: vehicle is offline or asleep"),
            ),
            "429": ChaosAnswer(
                kind,
                429,
                _envelope("rate limit exceeded"),
                {"Retry-After": str(self.retry_after)},
            ),
            "429_no_retry_after": ChaosAnswer(
                kind, 429, _envelope("Too Many Requests")
            ),
            # Tesla's rate limiter as captured (fleet-telemetry issue 184,
            # vehicle-command issue 255), without the Retry-After header.
            "429_ratelimit_reset": ChaosAnswer(
                kind,
                429,
                f"Retry in {self.retry_after} seconds\n",
                {
                    "RateLimit-Limit": "200",
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(self.retry_after),
                },
            ),
            "500": ChaosAnswer(kind, 500, _envelope("internal server error")),
            "503": ChaosAnswer(kind, 503, "upstream connect error or disconnect/reset"),
            "504": ChaosAnswer(kind, 504, _envelope("upstream timeout")),
            "timeout": ChaosAnswer(kind, 504, None, delay=self.timeout_delay),
            "reset": ChaosAnswer(kind, reset=True),
            "html": ChaosAnswer(
                kind,
                502,
                "<html><head><title>502 Bad Gateway</title></head>"
                "<body><center><h1>502 Bad Gateway</h1></center></body></html>",
            ),
            "empty": ChaosAnswer(kind, 200, None),
            "truncated": ChaosAnswer(
                kind,
                200,
                '{"response": {"id": 1, "vin": "LRW',
                content_type="application/json",
            ),
            "421": ChaosAnswer(
                kind,
                421,
                _envelope(f"user out of region, use base URL: {FOREIGN_REGION_URL}"),
            ),
        }
        return answers[kind]
