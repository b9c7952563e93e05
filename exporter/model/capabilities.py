"""What one cloud lets us collect: one record per cloud, switched off once when the API says no
(amphorae need an admin or global observer role; floating IPs need a Neutron endpoint; quotas,
flavors, zones and providers need a reader role, or an Octavia that has them; project names need
Keystone to answer one of its two project lists), read by whoever needs to know instead of being
copied around."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Capabilities:
    amphorae: bool = True
    amphora_stats: bool = False
    # Listener statistics from the amphorae's stats (plan.stats_amphorae); off once those 403.
    stats_via_amphorae: bool = True
    floating_ips: bool = True
    quotas: bool = True
    flavors: bool = True
    availability_zones: bool = True
    providers: bool = True
    project_names: bool = True

    def __post_init__(self) -> None:
        self.amphora_stats = self.amphora_stats and self.amphorae

    def disable_amphorae(self) -> None:
        self.amphorae = False
        self.amphora_stats = False
        self.stats_via_amphorae = False

    def disable_stats_via_amphorae(self) -> None:
        self.stats_via_amphorae = False

    def disable_floating_ips(self) -> None:
        self.floating_ips = False

    def disable_project_names(self) -> None:
        self.project_names = False

    def disable(self, name: str) -> None:
        """Switch one optional collection off for good (the inventory lists, by field name)."""
        if name not in OPTIONAL_LISTS:
            raise ValueError(f"not an optional list: {name}")
        setattr(self, name, False)


OPTIONAL_LISTS = ("quotas", "flavors", "availability_zones", "providers")
