"""A list of change listeners: one shape for every "tell me when it changes"."""

from __future__ import annotations

from collections.abc import Callable


class Listeners[**P]:
    """Callbacks to call after a change; each ``add`` returns its remover.

    ``Listeners[[]]()`` tells "it changed"; ``Listeners[[Transition]]()`` hands
    each listener what happened. The owner notifies and does not know who
    listens: this is how the parts of one entry are wired, at construction.
    """

    def __init__(self) -> None:
        """Start with none."""
        self._callbacks: list[Callable[P, None]] = []

    def add(self, listener: Callable[P, None]) -> Callable[[], None]:
        """Call ``listener`` after every change until the remover is called."""
        self._callbacks.append(listener)
        return lambda: self._callbacks.remove(listener)

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every listener (a listener may remove itself meanwhile)."""
        for listener in list(self._callbacks):
            listener(*args, **kwargs)
