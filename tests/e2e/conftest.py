"""What the browser tests share: Chromium, the development stack, logging in.

Each test asks for ``chromium`` first: without Chromium it skips before the
stack starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import os
from pathlib import Path
import shutil

from playwright.async_api import Page
import pytest

from scripts.dev_stack import PASSWORD, USER, Stack

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM = os.environ.get("TSW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, or a skip saying why it could not be installed."""
    if shutil.which(CHROMIUM) is None:
        reason = os.environ.get(
            "TSW_NO_CHROMIUM", f"{CHROMIUM} is missing (apt-get install chromium)"
        )
        pytest.skip(f"Chromium could not be installed from Debian's packages: {reason}")
    return CHROMIUM


@pytest.fixture
async def stack(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Stack]:
    """The development stack in a temporary folder, stopped cleanly after."""
    stack = Stack(
        tmp_path / "config",
        unused_tcp_port_factory(),
        unused_tcp_port_factory(),
        echo=False,
    )
    stack.start()
    groups = [process.pid for process in stack.processes]
    try:
        yield stack
    finally:
        codes = await asyncio.get_running_loop().run_in_executor(None, stack.stop)
        log = tmp_path / "config" / "home-assistant.log"
        # Home Assistant and the simulator stop on SIGTERM, leaving nothing behind.
        assert codes == [0, 0], log.read_text()[-3000:] if log.exists() else codes
        for group in groups:
            with pytest.raises(ProcessLookupError):
                os.killpg(group, 0)


async def log_in(page: Page, stack: Stack) -> None:
    """Home Assistant's login page, as a user fills it in."""
    await page.goto(stack.ha_url)
    await page.locator("input[name='username']").fill(USER)
    await page.locator("input[name='password']").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{stack.ha_url}/lovelace/**", timeout=30_000)


async def settle(page: Page) -> None:
    """Let the page finish loading and drawing."""
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=5_000)
    await page.wait_for_timeout(1_500)
