"""The commute scenario and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web
import pytest

from simulator import (
    HOME_WARSAW,
    WORK_WARSAW,
    Drive,
    FleetSimulator,
    ManualClock,
    PlugIn,
    commute,
    decode_jwt_payload,
    distance_m,
)
from simulator.__main__ import build, main, parse_args
from simulator.render import vehicle_data

from .conftest import VIN, local


@pytest.fixture
def morning() -> ManualClock:
    """Monday 16 June 2025, 00:00 in Warsaw."""
    return ManualClock(local(16, 0, 0))


def test_commute_events(morning: ManualClock) -> None:
    sim = FleetSimulator(morning)
    events = commute(sim, VIN, morning() + 3600, days=2)
    assert len(events) == 6
    first, second, plug = events[:3]
    assert isinstance(first, Drive)
    assert isinstance(second, Drive)
    assert isinstance(plug, PlugIn)
    assert (first.start, first.origin, first.destination) == (
        local(16, 7, 30),
        HOME_WARSAW,
        WORK_WARSAW,
    )
    assert first.end == local(16, 8, 0)
    assert (second.start, second.end) == (local(16, 16, 30), local(16, 17, 0))
    assert plug.at == local(16, 17, 5)
    assert events[3].at == local(17, 7, 30)
    assert sim.vehicles[VIN].pending == events


def test_commute_day(morning: ManualClock) -> None:
    sim = FleetSimulator(morning, start_asleep=True)
    sim.unplug(VIN)
    commute(sim, VIN, morning(), days=2)
    vehicle = sim.vehicle(VIN)
    km = distance_m(HOME_WARSAW, WORK_WARSAW) / 1000
    trip_percent = km * 0.16 / 75 * 100

    morning.set(local(16, 7, 45))
    assert sim.state(VIN) == "online"
    lat, lon = sim.position(vehicle)
    assert WORK_WARSAW[0] < lat < HOME_WARSAW[0]
    assert WORK_WARSAW[1] < lon < HOME_WARSAW[1]
    drive = vehicle_data(sim, vehicle, ["location_data"])["drive_state"]
    assert drive["shift_state"] == "D"
    assert drive["speed"] > 0

    morning.set(local(16, 12, 0))
    assert sim.state(VIN) == "asleep"  # state() advances the vehicle first
    assert sim.position(vehicle) == WORK_WARSAW
    assert vehicle.battery_level == pytest.approx(62 - trip_percent)

    morning.set(local(16, 17, 4))
    assert sim.position(vehicle) == HOME_WARSAW
    assert vehicle.plugged_in is False
    assert sim.state(VIN) == "online"
    level_at_home = vehicle.battery_level
    assert level_at_home == pytest.approx(62 - 2 * trip_percent)

    morning.set(local(16, 17, 5))
    assert sim.vehicle(VIN).charging_state == "Charging"
    charge_seconds = (80 - level_at_home) / 100 * 75 / 11 * 3600

    morning.set(local(16, 23, 59))
    assert sim.vehicle(VIN).charging_state == "Complete"
    assert sim.state(VIN) == "asleep"
    # 15 min after the unplug at midnight, 07:30-08:15, 16:30-17:05, the
    # charge, and 15 min after it completed.
    expected_awake = 900 + 45 * 60 + 35 * 60 + charge_seconds + 900
    assert sim.awake_seconds(VIN) == pytest.approx(expected_awake)

    morning.set(local(17, 7, 31))
    assert sim.vehicle(VIN).driving is True
    assert vehicle.plugged_in is False


def test_commute_weekdays_only_and_time_zone(morning: ManualClock) -> None:
    sim = FleetSimulator(morning)
    friday = local(20, 12, 0)
    events = commute(sim, VIN, friday, days=3, weekdays_only=True)
    assert [event.at for event in events] == [
        local(20, 7, 30),
        local(20, 16, 30),
        local(20, 17, 5),
    ]
    utc = commute(sim, VIN, local(23, 12, 0), days=1, tz="UTC")
    assert utc[0].at == local(23, 9, 30)  # 07:30 UTC is 09:30 in Warsaw


# --- command line ---------------------------------------------------------------


def test_parse_args_defaults() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.scenario, args.days) == (
        "127.0.0.1",
        8100,
        "none",
        7,
    )
    assert (args.region, args.client_id, args.tz) == (
        "EU",
        "sim-client-id",
        "Europe/Warsaw",
    )
    assert (args.sleep_after, args.wake_delay, args.token_lifetime) == (
        900.0,
        20.0,
        28800.0,
    )
    assert args.tokens_file is None
    assert args.start_asleep is False


def test_parse_args_options(tmp_path: Path) -> None:
    args = parse_args(
        [
            "--port",
            "9000",
            "--host",
            "::1",
            "--scenario",
            "commute",
            "--days",
            "3",
            "--region",
            "NA",
            "--client-id",
            "abc",
            "--sleep-after",
            "60",
            "--wake-delay",
            "5",
            "--token-lifetime",
            "3600",
            "--start-asleep",
            "--tokens-file",
            str(tmp_path / "t.json"),
        ]
    )
    assert (args.port, args.host, args.scenario, args.days) == (
        9000,
        "::1",
        "commute",
        3,
    )
    assert (args.region, args.client_id, args.sleep_after, args.wake_delay) == (
        "NA",
        "abc",
        60.0,
        5.0,
    )
    assert args.tokens_file == tmp_path / "t.json"
    assert args.start_asleep is True


@pytest.mark.parametrize(
    "argv",
    [["--port", "70000"], ["--days", "0"], ["--scenario", "rally"], ["--port", "x"]],
)
def test_parse_args_rejects(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_build_with_commute(morning: ManualClock) -> None:
    args = parse_args(
        ["--scenario", "commute", "--days", "2", "--host", "::1", "--sleep-after", "60"]
    )
    sim, app, info = build(args, morning)
    assert isinstance(app, web.Application)
    assert sim.sleep_after == 60
    assert len(sim.vehicles[VIN].pending) == 6
    assert info["api_base_url"] == "http://[::1]:8100"
    assert info["command_proxy_url"] == "http://[::1]:8100/proxy"
    assert info["token_url"] == "http://[::1]:8100/oauth2/v3/token"
    assert info["vins"] == [VIN]
    assert info["token"]["expires_at"] == morning() + 28800
    assert sim.authenticate(info["access_token"]) is not None
    claims = decode_jwt_payload(info["access_token"])
    assert claims["ou_code"] == "EU"


def test_main_prints_and_writes_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run_app(app: web.Application, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(web, "run_app", fake_run_app)
    tokens_file = tmp_path / "tokens.json"
    assert main(["--port", "8123", "--tokens-file", str(tokens_file)]) == 0
    (call,) = calls
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    out = capsys.readouterr().out
    written = json.loads(tokens_file.read_text())
    assert "http://127.0.0.1:8123" in out
    assert written["refresh_token"] in out
    assert written["client_id"] == "sim-client-id"
    assert written["token"]["refresh_token"] == written["refresh_token"]
    assert VIN in out
    capsys.readouterr()
    assert main(["--port", "8124"]) == 0
    assert "tokens written" not in capsys.readouterr().out


def test_demo_scenario(morning: ManualClock) -> None:
    sim, _app, _info = build(parse_args(["--scenario", "demo"]), morning)
    vehicle = sim.vehicles[VIN]
    assert not vehicle.plugged_in
    assert vehicle.charging_state == "Disconnected"
    assert 2000 < distance_m(sim.position(vehicle), HOME_WARSAW) < 3000
    assert sim.state(VIN) == "asleep"
    assert vehicle.command_signing == "required"


def test_token_store_survives_a_restart(tmp_path: Path) -> None:
    """The refresh token Home Assistant holds still works after a restart."""
    store = tmp_path / "store.json"
    args = parse_args(["--token-store", str(store)])
    first, _app, info = build(args)
    assert json.loads(store.read_text())["sub"] == first.tokens.sub
    rotated = first.tokens.refresh("sim-client-id", info["refresh_token"])
    # Restarted: same account, the rotated token works, the old access token not.
    second, _app, _info = build(args)
    assert second.tokens.sub == first.tokens.sub
    assert second.authenticate(rotated["access_token"]) is None
    again = second.tokens.refresh("sim-client-id", rotated["refresh_token"])
    claims = decode_jwt_payload(again["access_token"])
    assert claims["sub"] == first.tokens.sub
    # The token used just before the restart is still in its grace period.
    third, _app, _info = build(args)
    assert third.tokens.refresh("sim-client-id", rotated["refresh_token"])
    # Without a store every start is a new account.
    fresh, _app, _info = build(parse_args([]))
    assert fresh.tokens.sub != first.tokens.sub
