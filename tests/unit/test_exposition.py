"""Snapshot → exposition, without any network: families, escaping, state sets, staleness."""

import dataclasses
import gzip

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from exporter.model import states
from exporter.model.capabilities import Capabilities
from exporter.model.snapshot import (
    CloudHealth,
    CloudView,
    FleetSnapshot,
    Member,
)
from tests.support.exposition import parse_exposition as samples
from tests.support.exposition import render
from tests.support.snapshots import NASTY, full_snapshot, snapshot, view


def test_every_family_is_present_and_parses() -> None:
    found = samples(render([view(snapshot())]))
    for name in (
        "octavia_up", "octavia_poll_duration_seconds", "octavia_last_poll_success_timestamp_seconds",
        "octavia_snapshot_objects", "octavia_collector_enabled",
        "octavia_loadbalancer_info", "octavia_loadbalancer_admin_state_up",
        "octavia_loadbalancer_provisioning_status", "octavia_loadbalancer_operating_status",
        "octavia_loadbalancer_created_timestamp_seconds", "octavia_loadbalancer_stats_bytes_in_total",
        "octavia_loadbalancer_stats_bytes_out_total", "octavia_loadbalancer_stats_connections_total",
        "octavia_loadbalancer_stats_request_errors_total", "octavia_loadbalancer_stats_active_connections",
        "octavia_listener_info", "octavia_listener_provisioning_status",
        "octavia_listener_operating_status", "octavia_listener_connection_limit",
        "octavia_listener_stats_bytes_in_total", "octavia_listener_stats_active_connections",
        "octavia_pool_info", "octavia_pool_operating_status", "octavia_pool_members",
        "octavia_member_info", "octavia_member_operating_status",
        "octavia_member_provisioning_status", "octavia_healthmonitor_info",
        "octavia_healthmonitor_operating_status", "octavia_amphora_info", "octavia_amphora_status",
        "octavia_amphora_cert_expiration_timestamp_seconds",
    ):
        assert name in found, name
    assert found["octavia_loadbalancer_info"][0][0]["name"] == NASTY
    assert found["octavia_pool_members"][0][1] == 2
    assert found["octavia_loadbalancer_stats_request_errors_total"][0][1] == 5


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

    from exporter.export.collector import FleetCollector

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

    from exporter.export.render import RAW_DEFLATE, Deflated

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


def big_fleet(members: int, operating: dict[int, str] | None = None) -> FleetSnapshot:
    base = snapshot()
    operating = operating or {}
    fleet = {f"m{i:06d}": Member(f"m{i:06d}", f"web-{i}", "p1", "pool1", "lb1", "ACTIVE",
                                 operating.get(i, "ONLINE"), f"10.0.{i // 250}.{i % 250}", 80)
             for i in range(members)}
    pool = dataclasses.replace(base.pools["pool1"], member_ids=tuple(fleet))
    return dataclasses.replace(base, members=fleet, pools={"pool1": pool})


def test_a_render_reuses_the_unchanged_blocks_of_the_last_and_serves_the_same_text() -> None:
    from exporter.export.families import all_families
    from exporter.export.render import RenderCache, render_families

    cache = RenderCache()
    first = big_fleet(20_000)
    render_families(all_families([view(first)]), cache=cache)
    assert cache.reused_lines == 0
    # One member changes (in new mappings, so no family is known by identity): the render compresses that member's blocks again and no others.
    second = big_fleet(20_000, operating={12_345: "ERROR"})
    cached = render_families(all_families([view(second)]), cache=cache)
    fresh = render_families(all_families([view(second)]))
    assert cached.lines == fresh.lines
    assert cache.reused_lines > cached.lines - 3 * 8192
    for ours, reference in ((cached.text, fresh.text), (cached.openmetrics, fresh.openmetrics)):
        assert ours.plain() == reference.plain()
        assert (ours.crc, ours.size) == (reference.crc, reference.size)
        # The gzip member checks the carried CRC and length against the text itself.
        unzipped = gzip.decompress(b"".join(ours.gzip_parts(b"tail\n")))
        assert unzipped == reference.plain() + b"tail\n"
    assert 'member_id="m012345"' in cached.text.plain().decode()
    assert 'status="ERROR"} 1' in cached.text.plain().decode()


def test_an_inserted_object_changes_the_blocks_around_it_not_every_block_after_it() -> None:
    from exporter.export.families import all_families
    from exporter.export.render import RenderCache, render_families

    cache = RenderCache()
    render_families(all_families([view(big_fleet(20_000))]), cache=cache)
    base = big_fleet(20_000)
    extra = Member("m-new", "", "p1", "pool1", "lb1", "ACTIVE", "ONLINE", "10.9.9.9", 80)
    members = {"m-new": extra, **base.members}  # first of all: every line after it moves
    grown = dataclasses.replace(base, members=members, pools={"pool1": dataclasses.replace(
        base.pools["pool1"], member_ids=tuple(members))})
    rendered = render_families(all_families([view(grown)]), cache=cache)
    # Each member family starts with one new block; the rest of it is found again.
    assert cache.reused_lines > rendered.lines * 0.8
    assert 'member_id="m-new"' in rendered.text.plain().decode()


def test_crc32_combine_equals_the_crc_of_the_concatenation() -> None:
    import random
    import zlib

    from exporter.export.render import crc32_combine

    rng = random.Random(7)
    sizes = [(0, 0), (0, 5), (5, 0), (1, 1), (1000, 3), (70_000, 2_000_000)]
    sizes += [(rng.randrange(3000), rng.randrange(3000)) for _ in range(200)]
    for length_a, length_b in sizes:
        a, b = rng.randbytes(length_a), rng.randbytes(length_b)
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_a_family_is_reused_only_while_everything_it_is_made_of_is_the_same() -> None:
    """For each part of a snapshot in turn, a copy with that part changed and every other part
    the very same object: the cached render must equal a render from nothing. A family whose
    key forgets something it reads would serve the old text here."""
    from exporter.export.families import all_families
    from exporter.export.render import RenderCache, render_families

    base = full_snapshot()
    changed: dict[str, object] = {}
    for field in dataclasses.fields(FleetSnapshot):
        value = getattr(base, field.name)
        if isinstance(value, dict):
            assert value, f"full_snapshot() leaves {field.name} empty"
            first = next(iter(value))
            changed[field.name] = {k: v for k, v in value.items() if k != first}
    changed["cloud"] = "c2"
    changed["taken_at"] = 2.0
    for stateset in (False, True):
        for name, value in changed.items():
            cache = RenderCache()
            render_families(all_families([view(base)], stateset), cache=cache)
            again = render_families(all_families([view(base)], stateset), cache=cache)
            assert cache.compressed_lines == 0 and cache.reused_lines == again.lines
            mutated = dataclasses.replace(base, **{name: value})
            cached = render_families(all_families([view(mutated)], stateset), cache=cache)
            fresh = render_families(all_families([view(mutated)], stateset))
            assert cached.text.plain() == fresh.text.plain(), name
            assert cached.openmetrics.plain() == fresh.openmetrics.plain(), name
            assert (cached.text.crc, cached.text.size) == (fresh.text.crc, fresh.text.size)
            gzip.decompress(b"".join(cached.openmetrics.gzip_parts(b"# EOF\n")))


def test_configured_fields_as_info_labels_and_gauges() -> None:
    found = samples(render([view(full_snapshot())]))
    lb = found["octavia_loadbalancer_info"][0][0]
    assert (lb["vip_qos_policy_id"], lb["vip_vnic_type"], lb["vip_sg_ids"]) == (
        "qos1", "normal", "sg1,sg2")
    assert [(s["ip_address"], s["subnet_id"], s["port_id"], v) for s, v in
            found["octavia_loadbalancer_additional_vip_info"]] == [
        ("2001:db8::5", "subnet6", "port6", 1.0)]
    listener = found["octavia_listener_info"][0][0]
    assert (listener["allowed_cidrs"], listener["tls_versions"], listener["alpn_protocols"],
            listener["hsts_include_subdomains"], listener["hsts_preload"]) == (
        "192.0.2.0/24,198.51.100.0/24", "TLSv1.2,TLSv1.3", "h2,http/1.1", "true", "false")
    # Labels: the API's numbers as sent (timeouts in milliseconds, max-age in seconds).
    assert [listener[k] for k in ("timeout_member_connect", "timeout_member_data",
                                  "timeout_tcp_inspect", "hsts_max_age")] == [
        "5000", "50000", "0", "31536000"]
    # The one listener gauge: the client timeout, in seconds.
    assert found["octavia_listener_timeout_client_data_seconds"][0][1] == 50.0
    assert not [n for n in found if n.startswith(("octavia_listener_timeout_member",
                                                  "octavia_listener_timeout_tcp",
                                                  "octavia_listener_hsts",
                                                  "octavia_healthmonitor_max_retries"))]
    pool = found["octavia_pool_info"][0][0]
    assert (pool["session_persistence"], pool["tls_enabled"], pool["tls_versions"],
            pool["alpn_protocols"]) == ("APP_COOKIE", "true", "TLSv1.3", "h2")
    hm = found["octavia_healthmonitor_info"][0][0]
    assert (hm["http_method"], hm["url_path"], hm["expected_codes"], hm["max_retries"],
            hm["max_retries_down"]) == ("GET", "/healthz", "200-204", "3", "2")
    assert [found[f"octavia_healthmonitor_{name}_seconds"][0][1] for name in (
        "delay", "timeout")] == [5, 3]
    # Only the member whose pool list was read has the monitor series.
    assert [(s["member_id"], s["monitor_address"], s["monitor_port"]) for s, _ in
            found["octavia_member_monitor_info"]] == [("m1", "10.0.1.1", "8081")]


def test_unset_settings_give_empty_labels_and_no_gauges() -> None:
    found = samples(render([view(snapshot())]))
    listener = found["octavia_listener_info"][0][0]
    assert [listener[k] for k in ("allowed_cidrs", "tls_versions", "alpn_protocols",
                                  "timeout_member_connect", "timeout_member_data",
                                  "timeout_tcp_inspect", "hsts_max_age",
                                  "hsts_include_subdomains", "hsts_preload")] == [""] * 9
    hm = found["octavia_healthmonitor_info"][0][0]
    assert (hm["max_retries"], hm["max_retries_down"]) == ("", "")
    assert [found[n] for n in ("octavia_listener_timeout_client_data_seconds",
                               "octavia_healthmonitor_delay_seconds",
                               "octavia_healthmonitor_timeout_seconds",
                               "octavia_loadbalancer_additional_vip_info",
                               "octavia_member_monitor_info") if n in found] == []
    assert found["octavia_pool_info"][0][0]["tls_enabled"] == ""
