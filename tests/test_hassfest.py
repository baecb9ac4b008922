"""hassfest's and HACS's rules for this integration, checked in the suite.

Their GitHub actions cannot run here, so the rules that apply to a custom
integration are tests: the manifest, ``hacs.json``, ``services.yaml`` against
the registered actions, ``icons.json`` against the entities and actions, the
translation strings against Home Assistant's own string validators, and
``quality_scale.yaml`` with every rule of the Integration Quality Scale.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
import string
from typing import Any, cast

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.tesla_scout_worker.const import DOMAIN

ROOT = Path(__file__).parent.parent
COMPONENT = ROOT / "custom_components" / DOMAIN
TRANSLATION_FILES = ("strings.json", "translations/en.json", "translations/pl.json")

# hassfest's patterns (script/hassfest/translations.py).
RE_REFERENCE = re.compile(r"\[%key:(.+)%\]")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_PLACEHOLDER_IN_SINGLE_QUOTES = re.compile(r"'{\w+}'")
RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)


def _json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((COMPONENT / name).read_text(encoding="utf-8"))
    return data


def _leaves(
    data: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, data


# --- manifest and hacs.json --------------------------------------------------------


def test_manifest_keys_and_order() -> None:
    manifest = _json("manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"], "domain, name, then alphabetical"
    assert keys[2:] == sorted(keys[2:]), "domain, name, then alphabetical"
    assert manifest["domain"] == DOMAIN
    # What hassfest requires of a custom integration.
    for key in ("codeowners", "documentation", "issue_tracker", "version"):
        assert manifest.get(key), key
    assert AwesomeVersion(manifest["version"]).valid
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] in {
        "assumed_state",
        "calculated",
        "cloud_polling",
        "cloud_push",
        "local_polling",
        "local_push",
    }
    assert manifest["integration_type"] in {
        "device",
        "entity",
        "hardware",
        "helper",
        "hub",
        "service",
        "system",
        "virtual",
    }
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    assert set(manifest) <= {
        "after_dependencies",
        "bluetooth",
        "codeowners",
        "config_flow",
        "dependencies",
        "dhcp",
        "documentation",
        "domain",
        "homekit",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "loggers",
        "mqtt",
        "name",
        "quality_scale",
        "requirements",
        "single_config_entry",
        "ssdp",
        "usb",
        "version",
        "zeroconf",
    }


def test_hacs_json_is_valid_and_the_minimum_is_what_we_test() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert set(hacs) <= {
        "name",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "homeassistant",
        "hacs",
        "persistent_directory",
        "render_readme",
    }
    assert isinstance(hacs["name"], str)
    assert hacs["name"]
    minimum = AwesomeVersion(hacs["homeassistant"])
    assert minimum.valid
    # Every stack the test command runs is at least the declared minimum.
    assert AwesomeVersion(ha_version) >= minimum
    # The minimum stack pins exactly the declared minimum's release.
    pins = (ROOT / "requirements_test.txt").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pytest-homeassistant-custom-component==" in pins
    assert f"Home Assistant {minimum.major}.{minimum.minor}" in readme


# --- services.yaml, icons.json -------------------------------------------------------


async def test_services_yaml_matches_the_registered_actions(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    described = load_yaml_dict(str(COMPONENT / "services.yaml"))
    registered = hass.services.async_services_for_domain(DOMAIN)
    assert set(described) == set(registered)
    strings = _json("strings.json")["services"]
    icons = _json("icons.json")["services"]
    assert set(strings) == set(registered)
    assert set(icons) == set(registered)
    for name, service in registered.items():
        fields = set(described[name].get("fields") or {})
        schema = service.schema
        assert schema is not None
        keys = cast("dict[Any, Any]", schema.schema)
        assert fields == {str(key) for key in keys}, name
        assert fields == set(strings[name].get("fields") or {}), name


async def test_icons_cover_every_entity_translation_key(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    icons = _json("icons.json")["entity"]
    strings = _json("strings.json")["entity"]
    entries = er.async_entries_for_config_entry(
        entity_registry, init_integration.entry_id
    )
    assert len(entries) >= 19
    for entry in entries:
        key = entry.translation_key
        assert key is not None, entry.entity_id
        assert key in strings[entry.domain], entry.entity_id
        # A device class brings Home Assistant's icon (battery by level).
        if entry.original_device_class is None or entry.domain not in ("sensor",):
            assert key in icons.get(entry.domain, {}), entry.entity_id
    # No icon for an entity that does not exist.
    keys = {(entry.domain, entry.translation_key) for entry in entries}
    for platform, by_key in icons.items():
        for key in by_key:
            assert (platform, key) in keys, (platform, key)


# --- translation strings -------------------------------------------------------------


def _string_errors(text: str, *, placeholders_allowed: bool = True) -> list[str]:
    """What hassfest's translation value validator says of one string."""
    errors = []
    try:
        cv.string_with_no_html(text)
    except vol.Invalid as err:
        errors.append(str(err))
    if RE_PLACEHOLDER_IN_SINGLE_QUOTES.search(text):
        errors.append("placeholder inside single quotes")
    for _, field, _, _ in string.Formatter().parse(text):
        if field and (not placeholders_allowed or not field.isidentifier()):
            errors.append(f"placeholder {{{field}}} not allowed here")
    if RE_COMBINED_REFERENCE.search(text):
        errors.append("combined translations")
    if text != text.strip():
        errors.append("leading or trailing spaces")
    if RE_URL.search(text):
        errors.append("a URL: use a description placeholder")
    return errors


@pytest.mark.parametrize("name", TRANSLATION_FILES)
def test_translation_strings_pass_home_assistants_validators(name: str) -> None:
    strings = _json(name)
    problems = {}
    for path, text in _leaves(strings):
        assert isinstance(text, str), path
        # Entity states and attribute names take no placeholders.
        in_state = path[0] == "entity" and (
            "state" in path or "state_attributes" in path
        )
        if errors := _string_errors(text, placeholders_allowed=not in_state):
            problems["/".join(path)] = errors
    assert problems == {}


@pytest.mark.parametrize("name", TRANSLATION_FILES)
def test_translation_structure(name: str) -> None:
    strings = _json(name)
    for flow in ("config", "options"):
        for step_id, step in strings[flow]["step"].items():
            for group in [step, *step.get("sections", {}).values()]:
                extra = set(group.get("data_description", {})) - set(
                    group.get("data", {})
                )
                assert not extra, (flow, step_id, extra)
    for issue_id, issue in strings.get("issues", {}).items():
        assert "title" in issue, issue_id
        assert ("description" in issue) != ("fix_flow" in issue), issue_id
    for platform, entities in strings["entity"].items():
        for key, entity in entities.items():
            assert RE_TRANSLATION_KEY.match(key), (platform, key)
            for state in entity.get("state", {}):
                assert RE_TRANSLATION_KEY.match(state), (platform, key, state)
    for option in strings.get("selector", {}).values():
        for key in option.get("options", {}):
            assert RE_TRANSLATION_KEY.match(key), key
    for exception in strings.get("exceptions", {}).values():
        assert set(exception) == {"message"}


def test_references_point_directly_at_text() -> None:
    """Lokalise resolves one level of ``[%key:…%]``: no reference to a reference."""
    strings = _json("strings.json")
    for path, text in _leaves(strings):
        match = RE_REFERENCE.fullmatch(text)
        if match is None or not match.group(1).startswith(f"component::{DOMAIN}::"):
            continue
        node: Any = strings
        for part in match.group(1).split("::")[2:]:
            node = node[part]
        assert isinstance(node, str), path
        assert RE_REFERENCE.fullmatch(node) is None, path


def test_string_validator_catches_what_hassfest_rejects() -> None:
    assert _string_errors("Open https://tesla.com/_ak/example.com on the phone")
    assert _string_errors("Pair the key at <your domain>")
    assert _string_errors("Set '{name}' first")
    assert _string_errors(" trailing ")
    assert _string_errors("{vehicles}", placeholders_allowed=False)
    assert _string_errors("Open {pairing_url} with the Tesla app") == []


# --- quality_scale.yaml --------------------------------------------------------------

QUALITY_SCALE_RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}


def test_quality_scale_has_every_rule_done_or_exempt_with_a_reason() -> None:
    scale = load_yaml_dict(str(COMPONENT / "quality_scale.yaml"))
    rules = scale["rules"]
    every = [rule for tier in QUALITY_SCALE_RULES.values() for rule in tier]
    assert sorted(rules) == sorted(every)
    for name, rule in rules.items():
        if rule == "done":
            continue
        assert isinstance(rule, dict), name
        assert rule["status"] in ("done", "exempt"), name
        if rule["status"] == "exempt":
            assert len(rule.get("comment", "")) > 20, f"{name}: say why"


def test_brand_images() -> None:
    """Home Assistant 2026.3+ and HACS show a custom integration's own images."""
    sizes = {
        "icon.png": (256, 256),
        "icon@2x.png": (512, 512),
    }
    for name in ("icon.png", "icon@2x.png", "logo.png", "logo@2x.png"):
        data = (COMPONENT / "brand" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width = int.from_bytes(data[16:20], "big")
        height = int.from_bytes(data[20:24], "big")
        if name in sizes:
            assert (width, height) == sizes[name], name
        else:
            # Logos keep their aspect ratio; the shortest side is 128-256 (2x: 256-512).
            factor = 2 if "@2x" in name else 1
            assert 128 * factor <= min(width, height) <= 256 * factor, name


def test_every_raised_translation_key_is_translated() -> None:
    """exception-translations: each translated error has its text."""
    strings = _json("strings.json")
    raised = set()
    for path in COMPONENT.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        raised |= set(
            re.findall(
                r"(?:Error|Failed|NotReady)\(\s*translation_domain=DOMAIN,\s*"
                r'translation_key="(\w+)"',
                source,
            )
        )
    assert {"login_required", "cannot_reach_tesla", "entry_not_found"} <= raised
    assert raised <= set(strings["exceptions"]), raised - set(strings["exceptions"])


@pytest.mark.parametrize("package", ["fleet", "domain"])
def test_the_ha_free_packages_import_no_home_assistant(package: str) -> None:
    """The Fleet client and the domain logic stand without Home Assistant."""
    files = sorted((COMPONENT / package).rglob("*.py"))
    assert len(files) >= 5
    for path in files:
        source = path.read_text(encoding="utf-8")
        assert not re.search(
            r"^\s*(from|import)\s+homeassistant", source, re.MULTILINE
        ), path
        # Nor the integration's Home Assistant layer (one level up).
        assert not re.search(r"^\s*from \.\.(?!fleet\b)\w", source, re.MULTILINE), path
