"""Neutron's floating IPs on the load balancers' VIP ports."""

from __future__ import annotations

import uuid

from exporter.simulator.index import SortedIndex, SortKey
from exporter.simulator.model import (
    FIP_ACTIVE,
    FIP_DOWN,
    PUBLIC_NETWORK_ID,
    ROUTER_NAMESPACE,
    FloatingIP,
    LoadBalancer,
)
from exporter.simulator.store import Store


class Network(Store):
    """Allocating, attaching and releasing floating IPs over a store."""

    @staticmethod
    def fip_key(fip: FloatingIP) -> SortKey:
        """Neutron lists by id: the index key ignores the creation time."""
        return (0, fip.id)

    def router_id(self, project_id: str) -> str:
        """The project's router between its VIP subnet and the public network (stable)."""
        return str(uuid.uuid5(ROUTER_NAMESPACE, project_id))

    def lb_of_fip(self, fip: FloatingIP) -> LoadBalancer | None:
        if fip.port_id is None:
            return None
        lb_id = self.lb_by_port.get(fip.port_id)
        return self.loadbalancers.get(lb_id) if lb_id else None

    def _next_fip_address(self) -> str:
        self._fip_serial += 1
        n = self._fip_serial
        # 172.24.4.0/22 and up (devstack's public range), skipping .0, .1 and .255
        return f"172.{24 + (n // 62500) % 8}.{4 + (n // 250) % 250}.{2 + n % 250}"

    def add_floatingip(self, project_id: str, lb: LoadBalancer | None = None,
                       created_at: int | None = None, description: str = "",
                       tags: list[str] | None = None, floating_ip_address: str | None = None,
                       dns_name: str = "", dns_domain: str = "") -> FloatingIP:
        """Allocate a floating IP, attached to ``lb``'s VIP port when one is given."""
        now = self.clock if created_at is None else created_at
        fip = FloatingIP(
            id=str(uuid.UUID(int=self.net_rng.getrandbits(128), version=4)),
            project_id=project_id,
            floating_ip_address=floating_ip_address or self._next_fip_address(),
            floating_network_id=PUBLIC_NETWORK_ID,
            status=FIP_DOWN,
            created_at=now,
            updated_at=now,
            description=description,
            tags=list(tags or []),
            dns_name=dns_name,
            dns_domain=dns_domain,
        )
        self.floatingips[fip.id] = fip
        key = self.fip_key(fip)
        self.fip_index.add(key)
        self.fip_project_index.setdefault(project_id, SortedIndex()).add(key)
        self.free_fips.setdefault(project_id, SortedIndex()).add(key)
        if lb is not None:
            self.attach_floatingip(fip, lb, bump=False)
        return fip

    def attach_floatingip(self, fip: FloatingIP, lb: LoadBalancer | None,
                          bump: bool = True) -> None:
        """Associate a floating IP with ``lb``'s VIP port (ACTIVE), or disassociate it (None:
        DOWN). Stamps ``updated_at`` and the revision number unless ``bump`` is False."""
        key = self.fip_key(fip)
        if fip.port_id is not None:
            attached = self.fips_by_port.get(fip.port_id, [])
            if fip.id in attached:
                attached.remove(fip.id)
            if not attached:
                self.fips_by_port.pop(fip.port_id, None)
        else:
            free = self.free_fips.get(fip.project_id)
            if free is not None:
                free.remove(key)
        if lb is None:
            fip.port_id = None
            fip.fixed_ip_address = None
            fip.router_id = None
            fip.status = FIP_DOWN
            self.free_fips.setdefault(fip.project_id, SortedIndex()).add(key)
        else:
            fip.port_id = lb.vip_port_id
            fip.fixed_ip_address = lb.vip_address
            fip.router_id = self.router_id(lb.project_id)
            fip.status = FIP_ACTIVE
            self.fips_by_port.setdefault(lb.vip_port_id, []).append(fip.id)
        if bump:
            fip.updated_at = max(self.clock, fip.updated_at)
            fip.revision_number += 1

    def delete_floatingip(self, fip_id: str) -> None:
        fip = self.floatingips[fip_id]
        if fip.port_id is not None:
            self.attach_floatingip(fip, None, bump=False)
        key = self.fip_key(fip)
        free = self.free_fips.get(fip.project_id)
        if free is not None:
            free.remove(key)
        project_index = self.fip_project_index.get(fip.project_id)
        if project_index is not None:
            project_index.remove(key)
        self.fip_index.remove(key)
        del self.floatingips[fip_id]

    def sync_vip_address(self, lb: LoadBalancer) -> None:
        """A changed VIP address moves the fixed IP of the floating IPs on the VIP port."""
        for fip_id in self.fips_by_port.get(lb.vip_port_id, []):
            self.floatingips[fip_id].fixed_ip_address = lb.vip_address

