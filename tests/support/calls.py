"""The API calls the exporter made, as the simulator counted them, and how many a cycle should
make."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from exporter.model.plan import CREATED_SKEW, REPLACED_AFTER
from exporter.octavia.parse import timestamp
from tests.support.exporter import Control


async def octavia_calls(control: Control) -> Counter[str]:
    """API calls since the last reset, by endpoint template (Octavia and Neutron)."""
    calls: Counter[str] = Counter()
    for row in await control.requests():
        if row["service"] in ("octavia", "neutron"):
            calls[row["endpoint"]] += row["count"]
    await control.call("POST", "/_sim/requests/reset")
    return calls


def listener_stats_calls(truth: dict[str, Any]) -> Counter[str]:
    """One call per amphora for an ACTIVE load balancer whose amphorae were all created with it
    and are no more than its listeners (this fleet's changes all predate the lists), one per
    listener for the others."""
    born = {lb["id"]: timestamp(lb["created_at"]) for lb in truth["loadbalancers"]}
    active = {lb["id"] for lb in truth["loadbalancers"] if lb["provisioning_status"] == "ACTIVE"}
    amphorae: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for amp in truth["amphorae"]:
        if amp["loadbalancer_id"]:
            amphorae[amp["loadbalancer_id"]].append(amp)
    calls: Counter[str] = Counter()
    for lb_id, listeners in Counter(x["loadbalancer_id"] for x in truth["listeners"]).items():
        amps = amphorae.get(lb_id, [])
        if amps and lb_id in active and len(amps) <= listeners and all(
                born[lb_id] - CREATED_SKEW <= timestamp(a["created_at"])
                <= born[lb_id] + REPLACED_AFTER for a in amps):
            calls["/v2/octavia/amphorae/{id}/stats"] += len(amps)
        else:
            calls["/v2/lbaas/listeners/{id}/stats"] += listeners
    return calls
