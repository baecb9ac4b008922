"""A list of change listeners: one shape for every "tell me when it changes"."""

from __future__ import annotations

from collections.abc import Callable


class Listeners:
    """Callbacks to call after a change; each ``add`` returns its remover."""

    def __init__(self) -> None:
        """Start with none."""
        self._callbacks: list[Callable[[], None]] = []

    def add(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every change until the remover is called."""
        self._callbacks.append(listener)
        return lambda: self._callbacks.remove(listener)

    def notify(self) -> None:
        """Call every listener (a listener may remove itself meanwhile)."""
        for listener in list(self._callbacks):
            listener()
