"""Shared fixtures for Tesla Scout & Worker tests."""

from __future__ import annotations

# Import our package first: Home Assistant's loader would otherwise resolve the
# top-level ``custom_components`` package from the test plugin's config dir.
import custom_components.tesla_scout_worker  # noqa: F401  # isort: skip

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load this custom integration in every test."""
