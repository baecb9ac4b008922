"""Tesla's regional Fleet API hosts: the only ones a token is ever sent to."""

from __future__ import annotations

from collections.abc import Mapping

REGION_BASE_URLS: Mapping[str, str] = {
    "na": "https://fleet-api.prd.na.vn.cloud.tesla.com",
    "eu": "https://fleet-api.prd.eu.vn.cloud.tesla.com",
    "cn": "https://fleet-api.prd.cn.vn.cloud.tesla.cn",
}


def fleet_api_base_url(url: str | None) -> str | None:
    """``url`` when it is one of Tesla's regional Fleet API base URLs, else None.

    A 421 answer names the region to use in its error text. Only Tesla's own
    hosts are believed: following any URL would send the bearer token there.
    """
    if not url:
        return None
    candidate = url.strip().rstrip("/")
    return candidate if candidate in REGION_BASE_URLS.values() else None
