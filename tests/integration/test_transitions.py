"""Status changes written to Octavia's database between two cycles become transitions and events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration import checks
from tests.integration.fleet import db, set_status
from tests.support.exporter import events


@pytest.fixture
def restore_db(cloud, fleet) -> Iterator[list[tuple[str, str, dict[str, str]]]]:
    """Changes made through the returned list are undone after the test."""
    undo: list[tuple[str, str, dict[str, str]]] = []
    yield undo
    with db(cloud.db_path) as conn:
        for table, object_id, fields in reversed(undo):
            set_status(conn, table, object_id, **fields)


def change(conn, undo, table: str, object_id: str, **fields: str) -> None:
    row = conn.execute(f"SELECT {', '.join(fields)} FROM {table} WHERE id = ?",
                       (object_id,)).fetchone()
    undo.append((table, object_id, dict(row)))
    set_status(conn, table, object_id, **fields)


async def test_db_changes_between_cycles_are_transitions(make_exporter, cloud, fleet, truth,
                                                         restore_db, log_buffer) -> None:
    exporter = make_exporter()
    await exporter.cycle()

    lb_id = fleet.lb("plain")
    with db(cloud.db_path) as conn:
        listener_id = conn.execute("SELECT id, default_pool_id FROM listener WHERE "
                                   "load_balancer_id = ?", (lb_id,)).fetchone()
        pool_id = listener_id["default_pool_id"]
        member_id = conn.execute("SELECT id FROM member WHERE pool_id = ? ORDER BY ip_address",
                                 (pool_id,)).fetchone()["id"]
        amphora_id = conn.execute("SELECT id FROM amphora WHERE load_balancer_id = ? AND "
                                  "status = 'ALLOCATED' ORDER BY role", (lb_id,)).fetchone()["id"]
        hm_id = conn.execute("SELECT id FROM health_monitor WHERE pool_id = ?",
                             (pool_id,)).fetchone()["id"]
        # What the health manager writes when one member stops answering its checks.
        change(conn, restore_db, "member", member_id, operating_status="ERROR")
        change(conn, restore_db, "pool", pool_id, operating_status="DEGRADED")
        change(conn, restore_db, "listener", listener_id["id"], operating_status="DEGRADED")
        change(conn, restore_db, "load_balancer", lb_id, operating_status="DEGRADED")
        # And what the worker writes while an update is applied, and a failed amphora.
        change(conn, restore_db, "health_monitor", hm_id, provisioning_status="PENDING_UPDATE")
        change(conn, restore_db, "amphora", amphora_id, status="ERROR")
        # A load balancer that finished its update.
        change(conn, restore_db, "load_balancer", fleet.lb("pending-update"),
               provisioning_status="ACTIVE")

    metrics = await exporter.cycle()
    assert exporter.cycles == [True, True]
    assert checks.mismatches(metrics, truth()) == []

    expected = {
        ("member", member_id, "operating_status", "ONLINE", "ERROR"),
        ("pool", pool_id, "operating_status", "ONLINE", "DEGRADED"),
        ("listener", listener_id["id"], "operating_status", "ONLINE", "DEGRADED"),
        ("loadbalancer", lb_id, "operating_status", "ONLINE", "DEGRADED"),
        ("healthmonitor", hm_id, "provisioning_status", "ACTIVE", "PENDING_UPDATE"),
        ("amphora", amphora_id, "status", "ALLOCATED", "ERROR"),
        ("loadbalancer", fleet.lb("pending-update"), "provisioning_status", "PENDING_UPDATE",
         "ACTIVE"),
    }
    logged = {(e["resource"], e["id"], e["field"], e["old"], e["new"])
              for e in events(log_buffer) if e.get("event") == "status_changed"}
    assert logged == expected

    counted = {(lab["resource"], lab["field"], lab["from_status"], lab["to_status"]): v
               for lab, v in metrics["octavia_status_transitions_total"]}
    want: dict[tuple[str, str, str, str], float] = {}
    for resource, _, field, old, new in expected:
        want[(resource, field, old, new)] = want.get((resource, field, old, new), 0) + 1
    assert counted == want
