"""Octavia / Amphorae: status by role and zone, failovers, certificate expiry, spares, images."""

from __future__ import annotations

from typing import Any

from .panels import (
    BAR_OPTIONS,
    FP,
    RUNBOOKS,
    STAT_OPTIONS,
    TABLE_OPTIONS,
    TS_OPTIONS,
    F,
    Layout,
    Panel,
    cloud_project_vars,
    dashboard,
    info_join,
    panel,
    row,
    table_transform,
    target,
    thresholds,
)

FILE = "octavia-amphorae.json"


def build() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
    amp = "cloud, amphora_id"
    status_now = f"max by ({amp}, status) (octavia_amphora_status{{{FP}}} == 1)"

    panels.append(row(lay, "Status"))
    for label, title, what in (
        ("role", "Amphorae by status and role",
         "MASTER and BACKUP amphorae serve ACTIVE_STANDBY load balancers, STANDALONE ones "
         "SINGLE load balancers; spares have no role."),
        ("cached_zone", "Amphorae by status and compute zone",
         "The compute availability zone each amphora was booted in (cached_zone): a zone "
         "with many amphorae in ERROR points at that zone's hypervisors or network."),
    ):
        panels.append(panel(
            lay, "bargauge", title,
            f"Number of amphorae per status and {label} now (octavia_amphora_status joined "
            f"with octavia_amphora_info). {what} Admin-only data.",
            "short",
            [target(f"sum by (status, {label}) (\n  {status_now}\n  "
                    + info_join("amphora", FP, label, on=amp) + "\n)",
                    f"{{{{{label}}}}} {{{{status}}}}", instant=True)],
            w=12, h=8, options=BAR_OPTIONS,
            defaults={"thresholds": thresholds((None, "blue"))},
        ))
    panels.append(panel(
        lay, "timeseries", "Amphorae in transitional or failed states",
        "Amphorae over time in the states a failover goes through or ends in: BOOTING and "
        "PENDING_CREATE (a replacement is being built), PENDING_DELETE (the old one is "
        "removed), ERROR, FAILOVER_STOPPED (Octavia gave up: too many failovers at once). "
        "From cloud_project_status:octavia_amphora_status:sum.",
        "short",
        [target("sum by (status) (cloud_project_status:octavia_amphora_status:sum"
                f'{{{FP},status!~"ALLOCATED|READY|DELETED"}})', "{{status}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Failover activity",
        "Status changes of amphorae (resource amphora) and load balancers entering "
        "PENDING_UPDATE (what a failover sets), as the exporter saw them between poll cycles "
        "(octavia_status_transitions_total), per interval, counted once across replicas. Per "
        "cloud only: transitions carry no project.",
        "short",
        [target("sum by (from_status, to_status) (max by (cloud, from_status, to_status) ("
                f'increase(octavia_status_transitions_total{{{F},resource="amphora"}}'
                "[$__rate_interval])))", "amphora {{from_status}} → {{to_status}}", ref="A"),
         target("sum(max by (cloud) (increase(octavia_status_transitions_total"
                f'{{{F},resource="loadbalancer",field="provisioning_status",to_status="PENDING_UPDATE"}}'
                "[$__rate_interval])))", "load balancer → PENDING_UPDATE", ref="B")],
        w=12, h=8, options=TS_OPTIONS,
    ))

    panels.append(row(lay, "Certificates"))
    cert = f"max by ({amp}) (octavia_amphora_cert_expiration_timestamp_seconds{{{FP}}} > 0)"
    panels.append(panel(
        lay, "stat", "Certificates expiring",
        "Number of amphorae whose agent certificate expires within 7, 30 and 90 days "
        "(octavia_amphora_cert_expiration_timestamp_seconds; unknown expiries, exported as 0, "
        "are left out). Housekeeping rotates at 14 days before expiry by default, so anything "
        "under 7 days means rotation is not happening.",
        "short",
        [target(f"sum((\n  {cert}\n  - time()\n) < bool {days * 86400})", f"within {days} days",
                ref=ref) for ref, days in (("A", 7), ("B", 30), ("C", 90))],
        w=8, h=8, options={**STAT_OPTIONS, "orientation": "vertical"},
        defaults={"thresholds": thresholds((None, "green"))},
        overrides=[{"matcher": {"id": "byFrameRefID", "options": "A"}, "properties": [
            {"id": "thresholds", "value": thresholds((None, "green"), (1, "red"))}]}],
    ))
    panels.append(panel(
        lay, "bargauge", "Certificate expiry horizon",
        "The 20 amphorae whose certificate expires soonest, with the time left. Red below 3 "
        "days, yellow below 14 (the default rotation point).",
        "s",
        [target(f"bottomk(20,\n  {cert}\n  - time()\n)", "{{amphora_id}}", instant=True)],
        w=16, h=8, options=BAR_OPTIONS,
        defaults={"min": 0, "thresholds": thresholds(
            (None, "red"), (3 * 86400, "yellow"), (14 * 86400, "green"))},
    ))

    panels.append(row(lay, "Inventory"))
    panels.append(panel(
        lay, "table", "Amphorae without a load balancer",
        "Amphorae that serve no load balancer now: spares (READY, no load balancer) and "
        "amphorae whose load balancer is not (or no longer) listed, with status, compute "
        "instance, image and zone. Spares are expected when a spare pool is configured; "
        "others are leftovers to clean up. Not filtered by project (spares have none).",
        "none",
        [target(f"(\n  max by ({amp}, loadbalancer_id, status) (octavia_amphora_status"
                f'{{{F},loadbalancer_id=""}} == 1)\n'
                f"  or\n  (max by ({amp}, loadbalancer_id, status) (octavia_amphora_status"
                f'{{{F},loadbalancer_id!=""}} == 1)\n'
                "   unless on (cloud, loadbalancer_id) "
                f"octavia_loadbalancer_info{{{F}}})\n)\n"
                + info_join("amphora", F, "compute_id, image_id, cached_zone", on=amp),
                instant=True)],
        w=24, h=7, options=TABLE_OPTIONS,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "amphora_id": "Amphora ID", "loadbalancer_id": "Load balancer ID",
            "status": "Status", "compute_id": "Compute ID", "image_id": "Image",
            "cached_zone": "Zone"}, ordered=True),
    ))
    panels.append(panel(
        lay, "bargauge", "Image ids in use",
        "Number of amphorae per Glance image id (octavia_amphora_info image_id): after an "
        "amphora image upgrade, what still runs the old image and needs a failover.",
        "short",
        [target(f"sum by (image_id) (max by ({amp}, image_id) (octavia_amphora_info{{{FP}}}))",
                "{{image_id}}", instant=True)],
        w=12, h=7, options=BAR_OPTIONS,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "bargauge", "Compute flavors in use",
        "Number of amphorae per Nova flavor (octavia_amphora_info compute_flavor).",
        "short",
        [target(f"sum by (compute_flavor) (max by ({amp}, compute_flavor) "
                f"(octavia_amphora_info{{{FP}}}))", "{{compute_flavor}}", instant=True)],
        w=12, h=7, options=BAR_OPTIONS,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    return dashboard(
        "octavia-amphorae", "Octavia / Amphorae",
        "Octavia amphorae from octavia-exporter (admin data): status by role and zone, "
        f"failovers, certificate expiry, spares and leftovers, images. See {RUNBOOKS}.",
        cloud_project_vars("octavia_amphora_info"), panels,
    )

