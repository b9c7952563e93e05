"""Snapshot → exposition, without any network: families, escaping, state sets, staleness."""

import dataclasses
import gzip

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter import states
from exporter.capabilities import Capabilities
from exporter.exposition import Exposition
from exporter.snapshot import (
    Amphora,
    CloudHealth,
    CloudView,
    FleetSnapshot,
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Stats,
)

NASTY = 'we"b\\1\nzürich ✓'


def snapshot(cloud: str = "c1", extra_member: bool = True) -> FleetSnapshot:
    lb = LoadBalancer("lb1", NASTY, "p1", "ACTIVE", "DEGRADED", True, vip_address="203.0.113.5",
                      created_at=1000.0, listener_ids=("l1",), pool_ids=("pool1",))
    members = {"m1": Member("m1", "a", "p1", "pool1", "lb1", "ACTIVE", "ONLINE", "10.0.0.1", 80)}
    if extra_member:
        members["m2"] = Member("m2", "", "p1", "pool1", "lb1", "ACTIVE", "WEIRD_NEW", "10.0.0.2", 80)
    return FleetSnapshot(
        cloud=cloud, taken_at=1.0,
        loadbalancers={"lb1": lb},
        listeners={"l1": Listener("l1", "http", "p1", "lb1", "ACTIVE", "ONLINE", True, "HTTP",
                                  80, "pool1", 1000)},
        pools={"pool1": Pool("pool1", "", "p1", "lb1", "ACTIVE", "DEGRADED", True, "HTTP",
                             "ROUND_ROBIN", "hm1", ("l1",), tuple(members))},
        members=members,
        healthmonitors={"hm1": HealthMonitor("hm1", "", "p1", "pool1", "lb1", "ACTIVE", "ONLINE",
                                             True, "HTTP")},
        amphorae={"a1": Amphora("a1", "lb1", "ALLOCATED", "p1", role="MASTER",
                                cert_expiration=2e9)},
        loadbalancer_stats={"lb1": Stats(10, 20, 3, 40, 5)},
        listener_stats={"l1": Stats(10, 20, 3, 40, 5)},
    )


def view(snap: FleetSnapshot | None, **health) -> CloudView:
    cloud = snap.cloud if snap else "c1"
    fields = {"up": True, "cycles_completed": 1, "last_success": 5.0, **health}
    return CloudView(CloudHealth(cloud=cloud, **fields), snap)


def render(views, stateset=False, openmetrics=False, compress=False) -> str:
    exposition = Exposition(CollectorRegistry(), stateset=stateset)
    exposition.render_now(views)
    body, _ = exposition.body(openmetrics=openmetrics, compress=compress)
    if compress:
        body = gzip.decompress(body)
    return body.decode()


def samples(text: str, openmetrics: bool = False) -> dict:
    families = parse_om(text) if openmetrics else parse_text(text)
    out: dict = {}
    for family in families:
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_every_family_is_present_and_parses() -> None:
    found = samples(render([view(snapshot())]))
    for name in (
        "octavia_up", "octavia_poll_duration_seconds", "octavia_last_poll_success_timestamp_seconds",
        "octavia_snapshot_objects", "octavia_collector_enabled",
        "octavia_loadbalancer_info", "octavia_loadbalancer_admin_state_up",
        "octavia_loadbalancer_provisioning_status", "octavia_loadbalancer_operating_status",
        "octavia_loadbalancer_created_timestamp_seconds", "octavia_loadbalancer_bytes_in_total",
        "octavia_loadbalancer_bytes_out_total", "octavia_loadbalancer_connections_total",
        "octavia_loadbalancer_request_errors_total", "octavia_loadbalancer_active_connections",
        "octavia_listener_info", "octavia_listener_provisioning_status",
        "octavia_listener_operating_status", "octavia_listener_connection_limit",
        "octavia_listener_bytes_in_total", "octavia_listener_active_connections",
        "octavia_pool_info", "octavia_pool_operating_status", "octavia_pool_members",
        "octavia_member_info", "octavia_member_operating_status",
        "octavia_member_provisioning_status", "octavia_healthmonitor_info",
        "octavia_healthmonitor_operating_status", "octavia_amphora_info", "octavia_amphora_status",
        "octavia_amphora_cert_expiration_timestamp_seconds",
    ):
        assert name in found, name
    assert found["octavia_loadbalancer_info"][0][0]["name"] == NASTY
    assert found["octavia_pool_members"][0][1] == 2
    assert found["octavia_loadbalancer_request_errors_total"][0][1] == 5


def test_current_mode_emits_one_series_per_field_and_keeps_unknown_states() -> None:
    found = samples(render([view(snapshot())]))
    member_states = {(s["member_id"], s["status"]) for s, _ in
                     found["octavia_member_operating_status"]}
    assert member_states == {("m1", "ONLINE"), ("m2", "WEIRD_NEW")}


def test_stateset_mode_emits_every_known_state() -> None:
    found = samples(render([view(snapshot())], stateset=True))
    lb = found["octavia_loadbalancer_operating_status"]
    assert len(lb) == len(states.OPERATING_STATES)
    assert [s["status"] for s, v in lb if v == 1] == ["DEGRADED"]
    m2 = [(s["status"], v) for s, v in found["octavia_member_operating_status"]
          if s["member_id"] == "m2"]
    assert ("WEIRD_NEW", 1) in m2 and len(m2) == len(states.OPERATING_STATES) + 1


def test_openmetrics_and_gzip_variants_agree_with_text() -> None:
    views = [view(snapshot()), view(snapshot("c2"))]
    plain = samples(render(views))
    om_text = render(views, openmetrics=True, compress=True)
    assert om_text.endswith("# EOF\n") and om_text.count("# EOF") == 1
    om = samples(om_text, openmetrics=True)
    assert len(om["octavia_member_operating_status"]) == len(plain["octavia_member_operating_status"]) == 4
    assert samples(render(views, compress=True)) == plain


def test_deleted_objects_vanish() -> None:
    first = render([view(snapshot())])
    second = render([view(snapshot(extra_member=False))])
    assert 'member_id="m2"' in first and 'member_id="m2"' not in second


def test_stale_data_is_withdrawn_but_health_stays() -> None:
    found = samples(render([view(snapshot(), stale_withdrawn=True, up=False)]))
    assert "octavia_loadbalancer_info" not in found or not found["octavia_loadbalancer_info"]
    assert found["octavia_up"][0][1] == 0
    assert found["octavia_last_poll_success_timestamp_seconds"][0][1] == 5.0


def test_before_first_cycle_only_health_is_exported() -> None:
    found = samples(render([CloudView(CloudHealth(cloud="c1"), None)]))
    assert found["octavia_up"] == [({"cloud": "c1"}, 0.0)]
    assert not found.get("octavia_member_info")


def test_amphora_metrics_follow_the_enabled_flag() -> None:
    found = samples(render([dataclasses.replace(view(snapshot()),
                                                capabilities=Capabilities(amphorae=False))]))
    assert not found.get("octavia_amphora_status")


def test_fast_writer_agrees_with_prometheus_client() -> None:
    from prometheus_client import generate_latest
    from prometheus_client.openmetrics.exposition import generate_latest as generate_om

    from exporter.collector import FleetCollector

    views = [view(snapshot()), view(snapshot("c2"))]
    for stateset in (False, True):
        registry = CollectorRegistry()
        registry.register(FleetCollector(lambda: views, stateset=stateset))
        reference_text = generate_latest(registry).decode()
        reference_om = generate_om(registry).decode()
        assert samples(render(views, stateset=stateset)) == samples(reference_text)
        ours_om = render(views, stateset=stateset, openmetrics=True)
        assert samples(ours_om, openmetrics=True) == samples(reference_om, openmetrics=True)
        # Types must match too, not just samples.
        ours_types = {f.name: f.type for f in parse_om(ours_om)}
        ref_types = {f.name: f.type for f in parse_om(reference_om)}
        assert ours_types == ref_types


def test_plain_text_is_inflated_in_bounded_pieces() -> None:
    import zlib

    from exporter.render import RAW_DEFLATE, Deflated

    # Highly compressible on purpose: one small segment inflates to many pieces, so the
    # inflater is asked again while output is still pending inside it.
    text = b"".join(b"octavia_member_operating_status{member_id=\"%d\"} 1\n" % i
                    for i in range(200_000))
    segments = []
    for start in range(0, len(text), 3_000_000):
        compressor = zlib.compressobj(9, zlib.DEFLATED, RAW_DEFLATE)
        segment = text[start:start + 3_000_000]
        segments.append(compressor.compress(segment) + compressor.flush(zlib.Z_SYNC_FLUSH))
    deflated = Deflated(tuple(segments), zlib.crc32(text), len(text))
    pieces = list(deflated.plain_pieces(max_length=64 * 1024))
    assert max(len(p) for p in pieces) <= 64 * 1024
    assert len(pieces) >= len(text) // (64 * 1024)
    assert b"".join(pieces) == text == deflated.plain()
