"""What the cloud offers load balancers: flavors, availability zones and provider drivers.

One list call each (readable by any load-balancer reader in Octavia 19's default policy).
Flavor profiles and availability-zone profiles are admin-only and hold provider-specific data;
the flavor and zone lists already name their profile's id, which is all the metrics carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.model.snapshot import AvailabilityZone, Flavor, Provider
from exporter.octavia import parse
from exporter.octavia.client import OctaviaClient

FLAVOR_FIELDS = ("id", "name", "description", "enabled", "flavor_profile_id")
ZONE_FIELDS = ("name", "description", "enabled", "availability_zone_profile_id")


def flavor(obj: Any) -> Flavor:
    return Flavor(
        id=parse.object_id(obj),
        name=parse.text(obj, "name"),
        enabled=parse.flag(obj.get("enabled")),
        flavor_profile_id=parse.text(obj, "flavor_profile_id"),
        description=parse.text(obj, "description"),
    )


def zone(obj: Any) -> AvailabilityZone:
    if not isinstance(obj, Mapping) or not parse.text(obj, "name"):
        raise parse.ParseError("availability zone without a usable 'name'")
    return AvailabilityZone(
        name=parse.text(obj, "name"),
        enabled=parse.flag(obj.get("enabled")),
        availability_zone_profile_id=parse.text(obj, "availability_zone_profile_id"),
        description=parse.text(obj, "description"),
    )


def provider(obj: Any) -> Provider:
    if not isinstance(obj, Mapping) or not parse.text(obj, "name"):
        raise parse.ParseError("provider without a usable 'name'")
    return Provider(name=parse.text(obj, "name"), description=parse.text(obj, "description"))


async def flavors(client: OctaviaClient, page_size: int | None) -> list[Any]:
    return await client.list_all("flavors", "v2/lbaas/flavors", "flavors", FLAVOR_FIELDS,
                                 page_size)


async def zones(client: OctaviaClient, page_size: int | None) -> list[Any]:
    return await client.list_all("availabilityzones", "v2/lbaas/availabilityzones",
                                 "availability_zones", ZONE_FIELDS, page_size)


async def providers(client: OctaviaClient) -> list[Any]:
    # Not paginated: Octavia answers every enabled driver at once, without links.
    return await client.list_all("providers", "v2/lbaas/providers", "providers")
