"""Property-based checks: arbitrary API JSON never crashes the parser, and any name or value
survives the exposition round trip exactly (escaping)."""

import contextlib
import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.model.snapshot import LoadBalancer, Stats
from exporter.octavia import parse
from tests.support.exposition import parse_exposition as samples
from tests.support.exposition import render
from tests.support.snapshots import snapshot, view

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
object_keys = st.sampled_from([
    "id", "name", "project_id", "provisioning_status", "operating_status", "admin_state_up",
    "listeners", "pools", "loadbalancers", "members", "created_at", "connection_limit",
    "protocol_port", "bytes_in", "stats", "statuses", "loadbalancer", "health_monitor",
])
api_objects = st.dictionaries(object_keys, json_values, max_size=10) | json_values
LB = LoadBalancer("lb", "n", "p", "ACTIVE", "ONLINE", True)


@given(api_objects)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_parsers_only_ever_raise_parse_error(raw) -> None:
    for build in (parse.loadbalancer, parse.listener, parse.pool,
                  lambda r: parse.healthmonitor(r, {}), lambda r: parse.amphora(r, {}),
                  parse.stats, parse.amphora_stats, lambda r: parse.status_tree_members(r, LB),
                  lambda r: parse.pool_members([r], parse.pool({"id": "p"}))):
        with contextlib.suppress(parse.ParseError):
            build(raw)


@given(name=st.text(), project=st.text(min_size=1),
       counter=st.integers(min_value=0, max_value=2**62))
@settings(max_examples=200, deadline=None)
def test_any_label_value_and_counter_round_trips(name: str, project: str, counter: int) -> None:
    snap = snapshot()
    lb = dataclasses.replace(snap.loadbalancers["lb1"], name=name, project_id=project)
    snap = dataclasses.replace(snap, loadbalancers={"lb1": lb},
                               loadbalancer_stats={"lb1": Stats(counter, 0, 0, 0, 0)})
    for openmetrics in (False, True):
        found = samples(render([view(snap)], openmetrics=openmetrics, compress=True),
                        openmetrics=openmetrics)
        info = found["octavia_loadbalancer_info"][0][0]
        assert info["name"] == name and info["project_id"] == project
        assert found["octavia_loadbalancer_stats_bytes_in_total"][0][1] == float(counter)
