"""Token issue, rotation and the token endpoint."""

from __future__ import annotations

import pytest

from simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_SCOPES,
    FleetSimulator,
    ManualClock,
    TokenError,
    TokenStore,
    decode_jwt_payload,
    region_base_url,
)
from simulator.tokens import normalize_region

from .conftest import VIN, Client, bearer

DAY = 86400.0


@pytest.fixture
def store(clock: ManualClock) -> TokenStore:
    return TokenStore(clock, client_id="cid", region="EU", sub="account-1")


def _refresh_error(store: TokenStore, refresh_token: str) -> TokenError:
    with pytest.raises(TokenError) as err:
        store.refresh("cid", refresh_token)
    return err.value


def test_issued_tokens_are_tesla_shaped(store: TokenStore, clock: ManualClock) -> None:
    answer = store.issue()
    assert set(answer) == {
        "access_token",
        "refresh_token",
        "id_token",
        "expires_in",
        "token_type",
    }
    assert answer["expires_in"] == 28800
    assert answer["token_type"] == "Bearer"
    assert answer["refresh_token"].startswith("EU_")
    assert answer["access_token"].count(".") == 2
    claims = decode_jwt_payload(answer["access_token"])
    assert claims["sub"] == "account-1"
    assert claims["ou_code"] == "EU"
    assert claims["scp"] == list(DEFAULT_SCOPES)
    assert claims["iat"] == int(clock())
    assert claims["exp"] == int(clock() + 28800)
    assert claims["iss"].startswith("https://fleet-auth.prd.vn.cloud.tesla.com")
    assert region_base_url("eu") in claims["aud"]
    assert decode_jwt_payload(answer["id_token"])["aud"] == "cid"


def test_issue_with_scopes_and_region(store: TokenStore) -> None:
    answer = store.issue(scopes=["openid", "vehicle_device_data"], region="na")
    claims = decode_jwt_payload(answer["access_token"])
    assert claims["ou_code"] == "NA"
    assert claims["scp"] == ["openid", "vehicle_device_data"]
    grant = store.authenticate(answer["access_token"])
    assert grant is not None
    assert grant.region == "NA"
    assert grant.scopes == {"openid", "vehicle_device_data"}


def test_access_token_expires(store: TokenStore, clock: ManualClock) -> None:
    answer = store.issue()
    clock.advance(28799)
    assert store.authenticate(answer["access_token"]) is not None
    clock.advance(1)
    assert store.authenticate(answer["access_token"]) is None
    assert store.authenticate("not-a-token") is None


def test_refresh_rotates_and_invalidates_previous_access_token(
    store: TokenStore,
) -> None:
    first = store.issue()
    second = store.refresh("cid", first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert store.authenticate(first["access_token"]) is None
    assert store.authenticate(second["access_token"]) is not None


def test_most_recently_used_token_has_a_grace_period(store: TokenStore) -> None:
    first = store.issue()
    second = store.refresh("cid", first["refresh_token"])
    # A client that lost the answer retries with the token it just used.
    third = store.refresh("cid", first["refresh_token"])
    assert third["refresh_token"] not in {
        first["refresh_token"],
        second["refresh_token"],
    }
    # The pair from the lost answer is gone, the newest one works.
    assert _refresh_error(store, second["refresh_token"]).error == "login_required"
    assert store.authenticate(second["access_token"]) is None
    assert store.authenticate(third["access_token"]) is not None
    fourth = store.refresh("cid", third["refresh_token"])
    assert store.authenticate(fourth["access_token"]) is not None


def test_older_refresh_tokens_are_login_required(store: TokenStore) -> None:
    first = store.issue()
    second = store.refresh("cid", first["refresh_token"])
    store.refresh("cid", second["refresh_token"])
    err = _refresh_error(store, first["refresh_token"])
    assert (err.status, err.body()) == (
        401,
        {"error": "login_required", "error_description": "Login required"},
    )


def test_grace_ends_after_a_day(store: TokenStore, clock: ManualClock) -> None:
    first = store.issue()
    store.refresh("cid", first["refresh_token"])
    clock.advance(DAY)
    assert _refresh_error(store, first["refresh_token"]).status == 401


def test_refresh_token_expires_after_three_months(
    store: TokenStore, clock: ManualClock
) -> None:
    first = store.issue()
    clock.advance(90 * DAY)
    assert _refresh_error(store, first["refresh_token"]).error == "login_required"


def test_unknown_refresh_token_and_wrong_client(store: TokenStore) -> None:
    first = store.issue()
    assert _refresh_error(store, "EU_nonsense").status == 401
    with pytest.raises(TokenError) as err:
        store.refresh("other-client", first["refresh_token"])
    assert (err.value.status, err.value.error) == (401, "invalid_client")


def test_authorization_codes(store: TokenStore) -> None:
    code = store.create_auth_code(scopes=["openid"], region="NA")
    answer = store.exchange_code("cid", code)
    assert decode_jwt_payload(answer["access_token"])["ou_code"] == "NA"
    with pytest.raises(TokenError) as err:
        store.exchange_code("cid", code)
    assert (err.value.status, err.value.error) == (400, "invalid_grant")
    # The default code works every time.
    assert store.exchange_code("cid", "sim-code")["access_token"]
    assert store.exchange_code("cid", "sim-code")["access_token"]


def test_revoke_all(store: TokenStore) -> None:
    answer = store.issue()
    store.revoke_all()
    assert store.authenticate(answer["access_token"]) is None
    assert _refresh_error(store, answer["refresh_token"]).status == 401


def test_decode_rejects_non_jwt() -> None:
    with pytest.raises(ValueError, match="JWT"):
        decode_jwt_payload("opaque")
    with pytest.raises(ValueError, match="object"):
        decode_jwt_payload("a.WzFd.c")  # payload "[1]"


def test_region_names() -> None:
    assert normalize_region(" na ") == "NA"
    assert region_base_url("CN").endswith(".tesla.cn")
    with pytest.raises(ValueError, match="unknown region"):
        normalize_region("mars")


def test_token_error_without_description() -> None:
    assert TokenError(400, "invalid_request").body() == {"error": "invalid_request"}


# --- the HTTP token endpoint ---------------------------------------------


async def test_refresh_over_http(client: Client, sim: FleetSimulator) -> None:
    first = sim.issue_tokens()
    form = {
        "grant_type": "refresh_token",
        "client_id": DEFAULT_CLIENT_ID,
        "refresh_token": first["refresh_token"],
    }
    response = await client.post("/oauth2/v3/token", data=form)
    assert response.status == 200
    second = await response.json()
    assert second["token_type"] == "Bearer"
    assert second["expires_in"] == 28800
    # The previous access token stops working: 401 with an empty body.
    old = await client.get("/api/1/vehicles", headers=bearer(first))
    assert old.status == 401
    assert await old.text() == ""
    new = await client.get("/api/1/vehicles", headers=bearer(second))
    assert new.status == 200
    # Refreshing twice more with the first token: grace, then login_required.
    assert (await client.post("/oauth2/v3/token", data=form)).status == 200
    form["refresh_token"] = second["refresh_token"]
    response = await client.post("/oauth2/v3/token", data=form)
    assert response.status == 401
    assert await response.json() == {
        "error": "login_required",
        "error_description": "Login required",
    }


async def test_token_endpoint_errors(client: Client, sim: FleetSimulator) -> None:
    tokens = sim.issue_tokens()
    cases = [
        ({"grant_type": "refresh_token", "client_id": DEFAULT_CLIENT_ID}, 400),
        ({"client_id": DEFAULT_CLIENT_ID}, 400),
        ({"grant_type": "password", "client_id": DEFAULT_CLIENT_ID}, 400),
        ({"grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID}, 400),
        (
            {
                "grant_type": "refresh_token",
                "client_id": "wrong",
                "refresh_token": tokens["refresh_token"],
            },
            401,
        ),
    ]
    errors = []
    for form, status in cases:
        response = await client.post("/oauth2/v3/token", data=form)
        assert response.status == status
        errors.append((await response.json())["error"])
    assert errors == [
        "invalid_request",
        "invalid_request",
        "unsupported_grant_type",
        "invalid_request",
        "invalid_client",
    ]
    # Token requests are logged as auth and never billed.
    assert sim.stats.requests["auth"] == 5
    assert sim.stats.billable_total == 0
    assert sim.stats.cost_usd() == 0


async def test_code_exchange_over_http_json(
    client: Client, sim: FleetSimulator
) -> None:
    code = sim.create_auth_code(scopes=["openid", "vehicle_device_data"])
    body = {"grant_type": "authorization_code", "client_id": "sim-client-id"}
    response = await client.post("/oauth2/v3/token", json={**body, "code": code})
    assert response.status == 200
    answer = await response.json()
    assert decode_jwt_payload(answer["access_token"])["scp"] == [
        "openid",
        "vehicle_device_data",
    ]
    response = await client.post("/oauth2/v3/token", json={**body, "code": "bad"})
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_grant"
    response = await client.post("/oauth2/v3/token", data={**body, "code": "sim-code"})
    assert response.status == 200


async def test_expired_access_token_is_401_without_body(
    client: Client, sim: FleetSimulator, clock: ManualClock
) -> None:
    tokens = sim.issue_tokens()
    clock.advance(28800)
    response = await client.get(f"/api/1/vehicles/{VIN}", headers=bearer(tokens))
    assert response.status == 401
    assert await response.read() == b""
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = await client.get("/api/1/vehicles", headers=headers)
        assert response.status == 401
    # 401 answers are billable (status below 500).
    assert sim.stats.billable["data"] == 4
