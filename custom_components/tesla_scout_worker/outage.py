"""Saying once that a service went away, and once that it is back.

Home Assistant's rule ``log-when-unavailable``: an outage of hours is one
warning when it starts and one line when it ends, not one per attempt. The
attempts in between go to the debug log.
"""

from __future__ import annotations

from .const import LOGGER


class OutageLog:
    """The log of one service's availability (the token endpoint, the proxy…)."""

    def __init__(self, service: str, effect: str) -> None:
        """``service`` names it; ``effect`` says what its outage means."""
        self.service = service
        self.effect = effect
        self.down = False

    def failed(self, reason: str) -> None:
        """An attempt got no usable answer: warn if this starts an outage."""
        if self.down:
            LOGGER.debug("%s still cannot be reached: %s", self.service, reason)
            return
        self.down = True
        LOGGER.warning(
            "%s cannot be reached (%s); %s", self.service, reason, self.effect
        )

    def answered(self) -> None:
        """The service answered: say so once if it was away."""
        if self.down:
            self.down = False
            LOGGER.info("%s can be reached again", self.service)
