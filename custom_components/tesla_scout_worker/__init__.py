"""Tesla Scout & Worker: a Tesla integration that lets the car sleep.

Two layers (README, "Layout"): this package's modules are the Home Assistant
layer; ``domain/`` and ``fleet/`` below it never import Home Assistant. Python
runs this file before either of them, so it takes Home Assistant's entry points
from ``lifecycle.py`` only where Home Assistant is installed: the benchmark,
the simulator and anyone reusing the Fleet client import ``domain``/``fleet``
without it.
"""

from __future__ import annotations

try:
    import homeassistant  # noqa: F401
except ImportError:  # domain/ and fleet/ used on their own
    pass
else:
    from .lifecycle import (
        CONFIG_SCHEMA,
        async_remove_config_entry_device,
        async_remove_entry,
        async_setup,
        async_setup_entry,
        async_unload_entry,
    )

    __all__ = [
        "CONFIG_SCHEMA",
        "async_remove_config_entry_device",
        "async_remove_entry",
        "async_setup",
        "async_setup_entry",
        "async_unload_entry",
    ]
