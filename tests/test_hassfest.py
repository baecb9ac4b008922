"""hassfest's and HACS's rules for this integration, checked in the suite.

Their GitHub actions cannot run here, so the rules that apply to a custom
integration are tests: the manifest, ``hacs.json``, ``services.yaml`` against
the registered actions, ``icons.json`` against the entities and actions, the
translation strings against Home Assistant's own string validators, and
``quality_scale.yaml`` with every rule of the Integration Quality Scale.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
import importlib.metadata
import json
from pathlib import Path
import re
import string
import subprocess
import sys
from typing import Any, cast

from awesomeversion import AwesomeVersion
import homeassistant
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.util.yaml import load_yaml_dict
from packaging.requirements import Requirement
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
        schema: Any = service.schema
        assert schema is not None
        # A vol.All of checks: its first validator holds the fields.
        while isinstance(schema, vol.All):
            schema = schema.validators[0]
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


# --- translation keys used in the code ----------------------------------------------

# Which section of the strings a ``translation_key=`` keyword points into, by the
# name of what is called.
ISSUE_CALLS = frozenset(
    {"async_create_issue", "async_set_issue", "async_set_car_issues"}
)
EXCEPTION_SUFFIXES = ("Error", "Exception", "Failed", "NotReady", "Invalid")


@dataclass(frozen=True)
class _Module:
    """One parsed module of the integration."""

    name: str
    tree: ast.Module
    constants: dict[str, ast.expr]
    imports: dict[str, tuple[str, str | None]]
    parents: dict[ast.AST, ast.AST]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(COMPONENT).with_suffix("").parts)


def _parse(path: Path) -> _Module:
    name = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    constants: dict[str, ast.expr] = {}
    imports: dict[str, tuple[str, str | None]] = {}
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(target := node.targets[0], ast.Name):
                constants[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if isinstance(node.target, ast.Name):
                constants[node.target.id] = node.value
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            source = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            for alias in node.names:
                # ``from .const import X``: X of const; ``from . import const``.
                if node.module:
                    imports[alias.asname or alias.name] = (source, alias.name)
                else:
                    module = f"{source}.{alias.name}".strip(".")
                    imports[alias.asname or alias.name] = (module, None)
    parents = {
        child: parent
        for parent in ast.walk(tree)
        for child in ast.iter_child_nodes(parent)
    }
    return _Module(name, tree, constants, imports, parents)


class _Unresolved(Exception):  # noqa: N818
    """A ``translation_key`` value that is not a known string."""


class _KeyResolver:
    """The strings a ``translation_key=`` value can be, read from the source.

    A string constant; a name bound to one (a module constant, imported or
    not, or a local variable); a conditional expression of those; a parameter
    of the enclosing function, through every call of that function in its
    module. Anything else is unresolved, so the test names it.
    """

    def __init__(self, modules: dict[str, _Module]) -> None:
        self.modules = modules

    def _function(
        self, module: _Module, node: ast.AST
    ) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while (node := module.parents.get(node)) is not None:  # type: ignore[assignment]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    def resolve(self, module: _Module, node: ast.expr, depth: int = 0) -> set[str]:
        if depth > 10:
            raise _Unresolved(ast.unparse(node))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.resolve(module, node.body, depth + 1) | self.resolve(
                module, node.orelse, depth + 1
            )
        if isinstance(node, ast.Name):
            return self._name(module, node, depth)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (source := module.imports.get(node.value.id)) is not None
            and source[1] is None
            and source[0] in self.modules
        ):
            return self._global(self.modules[source[0]], node.attr, node, depth)
        raise _Unresolved(ast.unparse(node))

    def _name(self, module: _Module, node: ast.Name, depth: int) -> set[str]:
        function = self._function(module, node)
        while function is not None:
            arguments = function.args
            parameters = [*arguments.posonlyargs, *arguments.args]
            names = [arg.arg for arg in [*parameters, *arguments.kwonlyargs]]
            if node.id in names:
                return self._parameter(module, function, node.id, depth)
            assigned = [
                statement.value
                for statement in ast.walk(function)
                if isinstance(statement, ast.Assign | ast.AnnAssign)
                and statement.value is not None
                and any(
                    isinstance(target, ast.Name) and target.id == node.id
                    for target in (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                    )
                )
            ]
            if assigned:
                return set().union(
                    *(self.resolve(module, value, depth + 1) for value in assigned)
                )
            function = self._function(module, function)
        return self._global(module, node.id, node, depth)

    def _global(
        self, module: _Module, name: str, node: ast.expr, depth: int
    ) -> set[str]:
        if name in module.constants:
            return self.resolve(module, module.constants[name], depth + 1)
        source = module.imports.get(name)
        if source is not None and source[1] is not None and source[0] in self.modules:
            return self._global(self.modules[source[0]], source[1], node, depth + 1)
        raise _Unresolved(ast.unparse(node))

    def _parameter(
        self,
        module: _Module,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        name: str,
        depth: int,
    ) -> set[str]:
        arguments = function.args
        positional = [arg.arg for arg in [*arguments.posonlyargs, *arguments.args]]
        if positional and positional[0] in ("self", "cls"):
            positional = positional[1:]
        values: set[str] = set()
        calls = 0
        for call in ast.walk(module.tree):
            if not isinstance(call, ast.Call) or _called(call) != function.name:
                continue
            calls += 1
            given = [kw.value for kw in call.keywords if kw.arg == name]
            if not given and name in positional:
                index = positional.index(name)
                given = call.args[index : index + 1]
            if not given:
                raise _Unresolved(f"{function.name}(…) without {name}")
            values |= self.resolve(module, given[0], depth + 1)
        if not calls:
            raise _Unresolved(f"{name}, a parameter of {function.name}, never called")
        return values


def _called(call: ast.Call) -> str:
    """The name of what is called: ``f``, ``x.f`` and ``super().f`` give ``f``."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""


def _section(module: _Module, call: ast.Call) -> str | None:
    """The strings section of a call's ``translation_key``, or None if unknown."""
    name = _called(call)
    if name in ISSUE_CALLS:
        return "issues"
    if name.endswith("EntityDescription"):
        return "entity"
    if name.endswith("SelectorConfig"):
        return "selector"
    is_super = (
        name == "__init__"
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Call)
        and _called(call.func.value) == "super"
    )
    if (
        is_super
        or name.endswith(EXCEPTION_SUFFIXES)
        or any(kw.arg == "translation_domain" for kw in call.keywords)
    ):
        return "exceptions"
    return None


def _translation_keys() -> tuple[dict[str, set[str]], list[str]]:
    """Every key the code passes as ``translation_key=``, by section; and problems."""
    modules = {
        module.name: module for module in map(_parse, sorted(COMPONENT.rglob("*.py")))
    }
    resolver = _KeyResolver(modules)
    used: dict[str, set[str]] = {}
    problems = []
    for module in modules.values():
        for call in ast.walk(module.tree):
            if not isinstance(call, ast.Call):
                continue
            for keyword in call.keywords:
                if keyword.arg != "translation_key":
                    continue
                where = f"{module.name}:{keyword.value.lineno}"
                section = _section(module, call)
                if section is None:
                    problems.append(f"{where}: {_called(call)}(…) has no known section")
                    continue
                try:
                    keys = resolver.resolve(module, keyword.value)
                except _Unresolved as err:
                    problems.append(f"{where}: translation_key={err} is not a string")
                    continue
                if section == "entity":
                    # A platform's descriptions live in the platform's module.
                    section = f"entity/{module.name}"
                used.setdefault(section, set()).update(keys)
    return used, problems


@pytest.mark.parametrize("name", TRANSLATION_FILES)
def test_every_translation_key_in_the_code_is_translated(name: str) -> None:
    """exception-translations and repair-issues: each key used has its text.

    Every ``translation_key=`` keyword in the integration, whatever calls it
    (``raise …Error(…)``, ``super().__init__(…)`` in an exception,
    ``ir.async_create_issue``, an entity description, a selector) and however
    the key is given (a constant, a module constant such as
    ``ISSUE_COMMAND_PROTOCOL``, a conditional, a parameter of a helper).
    """
    strings = _json(name)
    used, problems = _translation_keys()
    assert problems == []
    # What the walk must find, or it finds nothing: raised directly, through
    # super().__init__, through a helper's parameter, and the repair issues.
    assert {
        "login_required",
        "invalid_client",
        "cannot_reach_tesla",
        "entry_not_found",
        "token_refresh_rate_limited",
        "token_refresh_failed",
    } <= used["exceptions"]
    assert {"command_protocol_required", "key_not_paired"} <= used["issues"]
    missing = {}
    for section, keys in used.items():
        if section.startswith("entity/"):
            platform = section.removeprefix("entity/")
            known = strings["entity"].get(platform) or {
                key for entities in strings["entity"].values() for key in entities
            }
        else:
            known = set(strings.get(section, {}))
        if keys - set(known):
            missing[section] = sorted(keys - set(known))
    assert missing == {}


# A module-level, an imported and a parameter-borne key; a super().__init__ one.
_SAMPLE = """
from .const import IMPORTED
LOCAL = "local_key"

class OwnError(HomeAssistantError):
    def __init__(self) -> None:
        super().__init__(translation_domain=DOMAIN, translation_key="from_super")

def fail(reason: str) -> Exception:
    return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key=reason)

def use(flag: bool) -> None:
    fail("via_parameter")
    ir.async_create_issue(hass, DOMAIN, "x", translation_key=LOCAL)
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=IMPORTED if flag else "conditional",
    )

def unknown(key: str) -> None:
    raise HomeAssistantError(translation_domain=DOMAIN, translation_key=key.upper())
"""


def test_the_translation_key_walk_sees_through_names() -> None:
    """The walk above on a sample: what the old regex missed, it finds."""
    const = ast.parse('IMPORTED: Final = "imported_key"')
    sample = ast.parse(_SAMPLE)
    modules = {
        "const": _Module("const", const, {"IMPORTED": const.body[0].value}, {}, {}),  # type: ignore[attr-defined]
        "sample": _Module(
            "sample",
            sample,
            {"LOCAL": sample.body[1].value},  # type: ignore[attr-defined]
            {"IMPORTED": ("const", "IMPORTED")},
            {c: p for p in ast.walk(sample) for c in ast.iter_child_nodes(p)},
        ),
    }
    resolver = _KeyResolver(modules)
    module = modules["sample"]
    found: dict[str, set[str]] = {}
    unresolved = []
    for call in ast.walk(sample):
        if not isinstance(call, ast.Call):
            continue
        for keyword in call.keywords:
            if keyword.arg == "translation_key":
                try:
                    keys = resolver.resolve(module, keyword.value)
                except _Unresolved as err:
                    unresolved.append(str(err))
                    continue
                section = _section(module, call)
                assert section is not None
                found.setdefault(section, set()).update(keys)
    assert found == {
        "exceptions": {
            "from_super",
            "via_parameter",
            "imported_key",
            "conditional",
        },
        "issues": {"local_key"},
    }
    assert unresolved == ["key.upper()"]


# --- the HA-free packages ------------------------------------------------------------

# Imports every module of one package of the integration with Home Assistant
# blocked, as a program that uses it without Home Assistant would: through the
# integration's package, whose ``__init__`` then leaves the Home Assistant
# layer out. ``homeassistant`` counts as not installed. Then runs the script
# given (if any), still blocked; it leaves ``result``.
_IMPORT_WITHOUT_HA = """
import importlib, importlib.abc, json, pathlib, sys

component, package = pathlib.Path(sys.argv[1]), sys.argv[2]
script = sys.argv[3] if len(sys.argv) > 3 else ""
tried = []

class NoHomeAssistant(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "homeassistant" or name.startswith("homeassistant."):
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoHomeAssistant())
failures = {}
for path in sorted((component / package).rglob("*.py")):
    parts = path.relative_to(component).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    name = ".".join(("custom_components.tesla_scout_worker", *parts))
    try:
        importlib.import_module(name)
    except Exception as err:
        failures[name] = repr(err)
ran = {}
if script:
    try:
        exec(script, ran)
    except Exception as err:
        failures["script"] = repr(err)
print(json.dumps({
    "failures": failures,
    "result": ran.get("result"),
    "tried": tried,
    "loaded": sorted(
        name for name in sys.modules
        if name.startswith(("homeassistant", "custom_components."))
    ),
}))
"""


# The token keeper at work, Home Assistant blocked: Tesla's token endpoint on a
# local port rotates the token once, then answers ``login_required``.
_KEEPER_WITHOUT_HA = """
import asyncio, time
import aiohttp
from aiohttp import web
from custom_components.tesla_scout_worker.fleet import LoginRequiredError, Token
from custom_components.tesla_scout_worker.fleet.tokens import OAuthClient, TokenKeeper

async def scenario():
    sent, said = [], []
    async def token_endpoint(request):
        sent.append((await request.post())["refresh_token"])
        if len(sent) > 1:
            return web.json_response({"error": "login_required"}, status=401)
        rotated = {"access_token": "access-2", "refresh_token": "refresh-2"}
        return web.json_response({**rotated, "expires_in": 28800})
    app = web.Application()
    app.router.add_post("/oauth2/v3/token", token_endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = "http://127.0.0.1:%d/oauth2/v3/token" % runner.addresses[0][1]
    now = [time.time()]
    stored = [
        Token(
            access_token="access-1",
            refresh_token="refresh-1",
            expires_in=28800,
            expires_at=now[0] - 1,
        )
    ]
    async def save(token):
        await asyncio.sleep(0.01)
        said.append(["saved", token.refresh_token])
        stored[0] = token
    try:
        async with aiohttp.ClientSession() as session:
            keeper = TokenKeeper(
                session,
                load=lambda: stored[0],
                oauth_client=lambda: OAuthClient(client_id="c", token_url=url),
                save=save,
                on_login_lost=lambda err: said.append(["lost", type(err).__name__]),
                clock=lambda: now[0],
            )
            said.append(["got", await keeper.async_get_access_token()])
            now[0] += 61
            try:
                await keeper.async_force_refresh()
            except LoginRequiredError as err:
                said.append(["raised", type(err).__name__])
    finally:
        await runner.cleanup()
    return {"sent": sent, "said": said}

result = asyncio.run(scenario())
"""


@pytest.mark.parametrize(
    ("package", "allowed", "script", "ran"),
    [
        (
            "fleet",
            ("fleet",),
            _KEEPER_WITHOUT_HA,
            {
                "sent": ["refresh-1", "refresh-2"],
                "said": [
                    # Saved before the caller got it.
                    ["saved", "refresh-2"],
                    ["got", "access-2"],
                    ["lost", "LoginRequiredError"],
                    ["raised", "LoginRequiredError"],
                ],
            },
        ),
        ("domain", ("domain", "fleet"), "", None),
    ],
    ids=["fleet", "domain"],
)
def test_the_ha_free_packages_import_no_home_assistant(
    package: str,
    allowed: tuple[str, ...],
    script: str,
    ran: dict[str, Any] | None,
) -> None:
    """The Fleet client and the domain logic stand without Home Assistant.

    Each module is imported in a fresh interpreter where any ``homeassistant``
    import fails, and nothing of the integration loads but the package itself
    (and, for the domain, the Fleet client): not the Home Assistant layer, not
    even its ``const``. The package's ``__init__`` runs first, as it would for
    any program, so it must stand without Home Assistant too. The token keeper
    also runs there: a refresh, its rotated token saved before use, a
    ``login_required``.
    """
    files = sorted((COMPONENT / package).rglob("*.py"))
    assert len(files) >= 5
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _IMPORT_WITHOUT_HA, str(COMPONENT), package, script],
        capture_output=True,
        check=True,
        cwd=ROOT,
        text=True,
    )
    report = json.loads(result.stdout)
    assert report["failures"] == {}
    assert report["result"] == ran
    # Only the package's own probe: is Home Assistant there at all?
    assert report["tried"] == ["homeassistant"]
    own = tuple(f"custom_components.{DOMAIN}.{name}" for name in allowed)
    loaded = [
        name
        for name in report["loaded"]
        if name not in ("custom_components", f"custom_components.{DOMAIN}")
        and not name.startswith(own)
    ]
    assert loaded == []
    # Every module was imported (none skipped as not a module).
    imported = {name for name in report["loaded"] if name.startswith(own[0])}
    assert len(imported) == len(files)

    # Nor an import of Home Assistant that runs later (inside a function).
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] == "homeassistant" for name in names), (
                f"{path}:{node.lineno}"
            )


# --- the library that signs commands -------------------------------------------------


UNPUBLISHED_CORE_PINS = {"1.19.0": "1.18.1"}
"""Core pins that are not on PyPI, and the newest release the tests run instead.

Home Assistant 2026.11's ``tesla_fleet`` pins 1.19.0, which is not published
(requirements_test_newest_ha.txt).
"""


def test_our_requirement_never_replaces_core_s_tesla_fleet_api() -> None:
    """Installing this integration keeps the copy core's ``tesla_fleet`` pins.

    Our manifest's range holds the version this Home Assistant's core pins,
    and the tests run exactly that version (what a user of this release has),
    or, when that pin is not on PyPI, the newest release that is.
    """
    core = Path(homeassistant.__file__).parent / "components" / "tesla_fleet"
    pinned = next(
        requirement
        for requirement in json.loads((core / "manifest.json").read_text())[
            "requirements"
        ]
        if requirement.startswith("tesla-fleet-api==")
    )
    core_version = pinned.split("==", 1)[1]
    ours = _json("manifest.json")["requirements"]
    (spec,) = [r for r in ours if r.startswith("tesla-fleet-api")]
    assert Requirement(spec).specifier.contains(core_version)
    assert importlib.metadata.version("tesla-fleet-api") == (
        UNPUBLISHED_CORE_PINS.get(core_version, core_version)
    )
