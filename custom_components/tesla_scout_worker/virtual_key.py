"""The application's virtual key: one per Home Assistant, kept, hosted, removed.

A Tesla application has one public key, fetched from its domain; every car of
every account signed in through it pairs that key. So the key is Home
Assistant's, not an entry's: made at the first need (or taken over from core
``tesla_fleet``'s ``tesla_fleet.key``, which the cars may already know), kept in
a private store (a file only Home Assistant's user reads; never in an entry's
data, diagnostics or a log), and deleted with the last entry.

With the user's consent Home Assistant serves the *public* half at
``/.well-known/appspecific/com.tesla.3p.public-key.pem`` on its own URL, so
Tesla can fetch it when the application registers its domain. Nothing else is
served there, and nothing at all while serving is off.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER
from .fleet.keys import (
    load_private_key,
    new_private_key,
    private_key_pem,
    public_key_pem as _public_key_pem,
)
from .fleet.partner import PUBLIC_KEY_PATH
from .storage import async_remove_entry_store, entry_store

STORE_VERSION = 1
CORE_KEY_FILE = "tesla_fleet.key"
"""Core ``tesla_fleet``'s key, in the configuration folder."""

_KEY: HassKey[VirtualKey] = HassKey(f"{DOMAIN}_virtual_key")
_LOCK: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_virtual_key_lock")
_VIEW: HassKey[bool] = HassKey(f"{DOMAIN}_public_key_view")


@dataclass(kw_only=True)
class VirtualKey:
    """The key pair and where its public half is published."""

    store: Store[dict[str, Any]]
    key: ec.EllipticCurvePrivateKey
    domain: str | None = None
    """The application's domain (what the pairing link names)."""
    serve: bool = False
    """Whether Home Assistant serves the public key."""
    kept: bool = False
    """Whether the key is in the store (a form's new key is not, yet)."""

    @property
    def public_pem(self) -> str:
        """The public key as Tesla fetches it."""
        return _public_key_pem(self.key)

    @property
    def public_hex(self) -> str:
        """The public point as Tesla's ``partner_accounts`` answer gives it."""
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.X962,
                serialization.PublicFormat.UncompressedPoint,
            )
            .hex()
        )

    async def async_save(self) -> None:
        """Keep the key and its publishing now (a lost key means pairing again)."""
        self.kept = True
        await self.store.async_save(
            {
                "private_key": private_key_pem(self.key),
                "domain": self.domain,
                "serve": self.serve,
            }
        )


def _store(hass: HomeAssistant) -> Store[dict[str, Any]]:
    return Store(hass, STORE_VERSION, f"{DOMAIN}.key", private=True)


async def async_virtual_key(
    hass: HomeAssistant, *, create: bool = True, keep: bool = True
) -> VirtualKey | None:
    """The key, loaded once; made when there is none and ``create``.

    A key made is kept at once unless ``keep`` is false: a form that only
    shows it (a flow the user may close) keeps nothing until it is submitted
    (:func:`async_publish`).
    """
    lock = hass.data.setdefault(_LOCK, asyncio.Lock())
    async with lock:
        if (held := hass.data.get(_KEY)) is not None:
            if keep and not held.kept:
                await held.async_save()
            return held
        store = _store(hass)
        saved = await store.async_load() or {}
        key = _load(saved.get("private_key"))
        if key is None:
            key = await _async_take_entry_key(hass)
        if key is None:
            if not create:
                return None
            key = new_private_key()
        domain = saved.get("domain")
        held = VirtualKey(
            store=store,
            key=key,
            domain=domain if isinstance(domain, str) and domain else None,
            serve=saved.get("serve") is True,
            kept=saved.get("private_key") == private_key_pem(key),
        )
        if keep and not held.kept:
            await held.async_save()
        hass.data[_KEY] = held
        return held


async def async_require_virtual_key(hass: HomeAssistant) -> VirtualKey:
    """The key, made when there is none."""
    key = await async_virtual_key(hass)
    assert key is not None  # noqa: S101 - made when missing
    return key


def _load(pem: Any) -> ec.EllipticCurvePrivateKey | None:
    if not isinstance(pem, str):
        return None
    try:
        return load_private_key(pem)
    except (TypeError, ValueError):
        LOGGER.warning(
            "The stored key for signed commands is damaged; a new one is made"
        )
        return None


def _entry_key_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where an earlier version kept an entry's own key."""
    return entry_store(hass, entry_id, "key", STORE_VERSION, private=True)


async def _async_take_entry_key(
    hass: HomeAssistant,
) -> ec.EllipticCurvePrivateKey | None:
    """Take over the key an earlier version kept per entry (its cars know it).

    The first entry's; another entry's key stays where it is (removed with
    that entry), and its cars are named by the pairing repair if they need
    the key taken over.
    """
    for entry in hass.config_entries.async_entries(DOMAIN):
        store = _entry_key_store(hass, entry.entry_id)
        saved = await store.async_load()
        if saved is None or (key := _load(saved.get("private_key"))) is None:
            continue
        await async_remove_entry_store(hass, store)
        return key
    return None


def core_key_path(hass: HomeAssistant) -> Path:
    """Core ``tesla_fleet``'s key file."""
    return Path(hass.config.path(CORE_KEY_FILE))


async def async_core_key(hass: HomeAssistant) -> ec.EllipticCurvePrivateKey | None:
    """Core ``tesla_fleet``'s key, when there is a usable one to reuse."""

    def read() -> str | None:
        path = core_key_path(hass)
        try:
            return path.read_text() if path.is_file() else None
        except OSError:
            return None

    pem = await hass.async_add_executor_job(read)
    if pem is None:
        return None
    try:
        return load_private_key(pem)
    except (TypeError, ValueError):
        return None


async def async_use_key(
    hass: HomeAssistant, key: ec.EllipticCurvePrivateKey
) -> VirtualKey:
    """Replace the key (core's, reused): cars must pair the new public half."""
    held = await async_require_virtual_key(hass)
    held.key = key
    await held.async_save()
    return held


async def async_publish(
    hass: HomeAssistant, *, domain: str | None, serve: bool
) -> VirtualKey:
    """Record the application's domain, and whether Home Assistant serves the key."""
    held = await async_require_virtual_key(hass)
    held.domain = domain
    held.serve = serve
    await held.async_save()
    return held


async def async_remove_virtual_key(hass: HomeAssistant, entry_id: str) -> None:
    """An entry is deleted: its old own key goes; the shared one with the last."""
    await async_remove_entry_store(hass, _entry_key_store(hass, entry_id))
    entries = hass.config_entries.async_entries(DOMAIN)
    if any(entry.entry_id != entry_id for entry in entries):
        return
    async with hass.data.setdefault(_LOCK, asyncio.Lock()):
        await _store(hass).async_remove()
        hass.data.pop(_KEY, None)


@callback
def async_register_public_key_view(hass: HomeAssistant) -> None:
    """Answer at the key's path from now on (once; it checks ``serve`` itself).

    At setup, and from the config flow of a first entry: Tesla fetches the key
    while that flow registers the domain, before the integration is set up.
    """
    if hass.data.get(_VIEW):
        return
    hass.data[_VIEW] = True
    hass.http.register_view(PublicKeyView())


class PublicKeyView(HomeAssistantView):
    """``GET /.well-known/appspecific/com.tesla.3p.public-key.pem``, no login.

    The public key only, and only while the user has Home Assistant serve it;
    otherwise 404, as if the path did not exist.
    """

    url = PUBLIC_KEY_PATH
    name = f"{DOMAIN}:public_key"
    requires_auth = False

    async def get(self, request: web.Request) -> web.Response:
        """Answer Tesla (or anyone) with the public key."""
        # What is loaded (at setup, or by the flow): a visitor reads no file.
        held = request.app[KEY_HASS].data.get(_KEY)
        if held is None or not held.serve:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        return web.Response(text=held.public_pem, content_type="application/x-pem-file")
