"""Prepare a fresh development Home Assistant: a user, the integration, the simulator.

Run by ``scripts/develop`` in the background. On a fresh ``config/`` it waits for
Home Assistant, creates the user ``dev`` (password ``dev-password``), and adds
Tesla Scout & Worker through its real config flow (manual sign-in with the
simulator's client id and refresh token, custom API URL). Otherwise it does nothing.
Only talks to 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

HA = "http://127.0.0.1:8123"
CLIENT_ID = f"{HA}/"
CONFIG = Path(__file__).resolve().parent.parent / "config"
USER, PASSWORD = "dev", "dev-password"


def call(
    method: str,
    path: str,
    data: Any = None,
    token: str | None = None,
    *,
    form: bool = False,
) -> Any:
    """One request to the local Home Assistant."""
    headers: dict[str, str] = {}
    body = None
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - a fixed local http URL
        HA + path, data=body, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def wait_for(predicate: Any, what: str, seconds: float = 600) -> None:
    """Poll until ``predicate()`` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(2)
    sys.exit(f"bootstrap: gave up waiting for {what}")


def main() -> None:
    """Onboard and add the integration, once."""
    if (CONFIG / ".storage" / "onboarding").exists():
        return
    tokens_file = CONFIG / "simulator_tokens.json"
    wait_for(tokens_file.exists, "the simulator's tokens")
    wait_for(lambda: call("GET", "/api/onboarding") is not None, "Home Assistant")
    sim = json.loads(tokens_file.read_text())
    user = call(
        "POST",
        "/api/onboarding/users",
        {
            "client_id": CLIENT_ID,
            "name": "Developer",
            "username": USER,
            "password": PASSWORD,
            "language": "en",
        },
    )
    token = call(
        "POST",
        "/auth/token",
        {
            "grant_type": "authorization_code",
            "code": user["auth_code"],
            "client_id": CLIENT_ID,
        },
        form=True,
    )["access_token"]
    # The remaining onboarding steps (location, analytics) are left to the UI:
    # they would start integrations whose packages this environment lacks.
    call(
        "POST",
        "/api/onboarding/integration",
        {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID},
        token,
    )
    flow = call(
        "POST",
        "/api/config/config_entries/flow",
        {"handler": "tesla_scout_worker"},
        token,
    )
    path = f"/api/config/config_entries/flow/{flow['flow_id']}"
    call("POST", path, {"next_step_id": "manual"}, token)
    flow = call(
        "POST",
        path,
        {
            "client_id": sim["client_id"],
            "refresh_token": sim["refresh_token"],
            "advanced": {"token_url": sim["token_url"]},
        },
        token,
    )
    if flow.get("step_id") == "region":
        flow = call(
            "POST",
            path,
            {"region": "custom", "api_base_url": sim["api_base_url"]},
            token,
        )
    vins = [
        option["value"]
        for option in flow["data_schema"][0]["selector"]["select"]["options"]
    ]
    flow = call(
        "POST",
        path,
        {
            "vins": vins,
            "home": {"latitude": 52.2297, "longitude": 21.0122, "radius": 100},
        },
        token,
    )
    print(
        f"bootstrap: {flow.get('type')} {flow.get('title')!r}; log in at {HA} as "
        f"{USER} / {PASSWORD}"
    )


if __name__ == "__main__":
    main()
