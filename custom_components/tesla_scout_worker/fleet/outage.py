"""Saying once that a service went away, and once that it is back.

Home Assistant's rule ``log-when-unavailable``: an outage of hours is one
warning when it starts and one line when it ends, not one per attempt. The
attempts in between go to the debug log.
"""

from __future__ import annotations

import logging

from .billing import RequestCategory
from .transport import RequestListener

_LOGGER = logging.getLogger(__name__)


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
            _LOGGER.debug("%s still cannot be reached: %s", self.service, reason)
            return
        self.down = True
        _LOGGER.warning(
            "%s cannot be reached (%s); %s", self.service, reason, self.effect
        )

    def answered(self) -> None:
        """The service answered: say so once if it was away."""
        if self.down:
            self.down = False
            _LOGGER.info("%s can be reached again", self.service)


def watch_command_proxy(record: RequestListener) -> RequestListener:
    """The client's request listener when commands go through a proxy.

    Every command goes to the proxy (and nothing else does): a command that
    got no answer at all (refused connection, timeout, TLS failure) means the
    proxy is away; any answer, even the car's refusal, means it is there.
    Each request is still counted by ``record``.
    """
    proxy = OutageLog("The command proxy", "commands are not sent until it answers")

    def listener(category: RequestCategory, status: int | None) -> None:
        record(category, status)
        if category is not RequestCategory.COMMAND:
            return
        if status is None:
            proxy.failed("no answer")
        else:
            proxy.answered()

    return listener
