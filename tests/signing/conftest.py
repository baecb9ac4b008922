"""No Home Assistant here: the client and the simulator only."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the project fixture: no Home Assistant here."""
